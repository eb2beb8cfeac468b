"""The FastAPI side of the messenger example: one WebSocket endpoint whose connect and disconnect
go through PresenceManager (first-join / last-leave hooks), and a status endpoint.

    PRESENCE_JWT_SECRET=… uvicorn app:app          (needs fastapi and uvicorn)
"""

import os

from fastapi import FastAPI, WebSocket, WebSocketDisconnect

from presence_client import service_token

from presence_manager import PresenceManager

app = FastAPI()


async def announce_online(user_id: str) -> None:
    print(f"{user_id} is online")  # e.g. notify their contacts


async def announce_offline(user_id: str) -> None:
    print(f"{user_id} went offline")


presence = PresenceManager(
    os.environ.get("PRESENCE_TARGET", "127.0.0.1:8080"),
    service_token(os.environ["PRESENCE_JWT_SECRET"], "messenger"),
    on_first_connect=announce_online,
    on_last_disconnect=announce_offline,
)


@app.on_event("startup")
async def startup() -> None:
    await presence.start()


@app.on_event("shutdown")
async def shutdown() -> None:
    await presence.stop()


@app.websocket("/ws/{user_id}")
async def chat(websocket: WebSocket, user_id: str, zone: str = "") -> None:
    await websocket.accept()
    key = await presence.connect(user_id, zone=zone or None)
    try:
        while True:
            await websocket.receive_text()
    except WebSocketDisconnect:
        pass
    finally:
        await presence.disconnect(user_id, key)


@app.get("/status")
async def status(ids: str) -> dict:
    found = await presence.statuses(*ids.split(","))
    return {uid: {"state": s.state, "last_seen": s.last_seen.isoformat() if s.last_seen else None} for uid, s in found.items()}
