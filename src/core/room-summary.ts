import type { Counts } from "./presence-event.js";

/** A room and its counts (AdminService.ListRooms). */
export interface RoomSummary {
  room: string;
  counts: Counts;
}

/** The order of `listRooms`: busiest first (connections desc), then by name. */
export function compareRooms(a: RoomSummary, b: RoomSummary): number {
  return b.counts.connections - a.counts.connections || (a.room < b.room ? -1 : a.room > b.room ? 1 : 0);
}
