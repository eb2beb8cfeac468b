import { useRef, type PointerEvent } from "react";
import type { RoomHandle } from "@presence-platform/client";
import { useCursors, useTyping } from "@presence-platform/react";
import { colorOf } from "./colors.js";

/**
 * The "document": a text area with the others' live cursors drawn over it and a typing line
 * under it. Cursor positions are CSS pixels relative to the document area's top-left corner,
 * sent through the SDK's cursor helper (at most one send per animation frame); `element: "doc"`
 * marks a pointer over the document, an empty element one that left it (the cursor is hidden).
 * The text itself is not shared: this page shows presence, not collaborative editing.
 */
const ELEMENT = "doc";

const INITIAL_TEXT = `Team offsite: plan

1. Dates: second week of May (to confirm with everyone)
2. Venue: the lake house, or the city office if it rains
3. Agenda: roadmap review, demos, a long lunch

Open questions
- Who books the train tickets?
- Vegetarian options for the dinner
`;

export function DocumentArea({ room, canShare }: { room: RoomHandle | null; canShare: boolean }) {
  const area = useRef<HTMLDivElement>(null);
  const { cursors, update } = useCursors(room);
  const typing = useTyping(room);

  const move = (e: PointerEvent<HTMLDivElement>) => {
    const box = area.current?.getBoundingClientRect();
    if (!canShare || !box) return;
    update({ x: Math.round(e.clientX - box.left), y: Math.round(e.clientY - box.top), element: ELEMENT });
  };
  const leave = (e: PointerEvent<HTMLDivElement>) => {
    const box = area.current?.getBoundingClientRect();
    if (canShare && box) update({ x: Math.round(e.clientX - box.left), y: Math.round(e.clientY - box.top), element: "" });
  };
  const width = area.current?.clientWidth ?? Infinity;
  const height = area.current?.clientHeight ?? Infinity;

  return (
    <section className="card document">
      <div className="document-head">
        <h2>Shared document</h2>
        <span className="hint">{canShare ? "Move the pointer here and type: the others see it live." : "Guests are counted but share no cursor or typing."}</span>
      </div>
      <div className="doc-area" ref={area} onPointerMove={move} onPointerLeave={leave} data-testid="doc-area">
        <textarea
          id="doc"
          aria-label="Shared document"
          defaultValue={INITIAL_TEXT}
          spellCheck={false}
          onKeyDown={canShare ? typing.start : undefined}
          onBlur={canShare ? typing.stop : undefined}
        />
        <div className="cursors" aria-hidden="true">
          {cursors
            .filter((c) => c.position.element === ELEMENT)
            .map((c) => (
              <div
                key={c.connectionId}
                className="cursor"
                data-user-id={c.userId}
                style={{ transform: `translate(${clamp(c.position.x, width)}px, ${clamp(c.position.y, height)}px)`, color: colorOf(c.userId) }}
              >
                <svg width="18" height="22" viewBox="0 0 18 22">
                  <path d="M1 1 L1 18 L5.5 13.8 L8.6 20.6 L11.6 19.3 L8.6 12.6 L14.8 12.6 Z" fill="currentColor" stroke="#fff" strokeWidth="1.5" strokeLinejoin="round" />
                </svg>
                <span className="cursor-name" style={{ background: colorOf(c.userId) }}>
                  {c.name || c.userId}
                </span>
              </div>
            ))}
        </div>
      </div>
      <p className="typing" id="typing" aria-live="polite">
        {typing.label || "\u00a0"}
      </p>
    </section>
  );
}

const clamp = (v: number, max: number) => Math.max(0, Math.min(v, max - 4));
