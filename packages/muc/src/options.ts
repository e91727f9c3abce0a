/**
 * The MUC service's settings, offered by the server as `muc.<name>` (SWITCHBOARD_MUC_*): the
 * service domain and the abuse limits of the MUC issue, each with a default and a bound.
 */
import { option, type OptionsOf } from "@switchboard/core";

export const CREATE_ROOMS = ["everyone", "local", "admins"] as const;
export type CreateRooms = (typeof CREATE_ROOMS)[number];

export const MUC_OPTIONS = {
  domain: option.string("", "Domain of the multi-user chat service (XEP-0045); empty means `conference.<domain>`."),
  createRooms: option.oneOf(CREATE_ROOMS, "local", "Who may create rooms: `everyone`, `local` (accounts of this server) or `admins` (the bare JIDs in `admins`)."),
  maxRoomIdLength: option.integer(1, 1023, 100, "Longest room name (the part before @) a join or creation may use, in characters; longer gets presence error not-acceptable."),
  maxNickLength: option.integer(1, 1023, 64, "Longest nickname, in characters; a longer join or nick change gets presence error not-acceptable."),
  maxRoomNameLength: option.integer(1, 100_000, 100, "Longest room title (muc#roomconfig_roomname) the owner's form may set; longer gets IQ error not-acceptable."),
  maxRoomDescriptionLength: option.integer(1, 100_000, 1000, "Longest room description (muc#roomconfig_roomdesc) the owner's form may set."),
  maxPasswordLength: option.integer(1, 10_000, 64, "Longest room password the owner's form may set."),
  maxSubjectLength: option.integer(1, 100_000, 1000, "Longest subject; a longer subject change gets message error not-acceptable."),
  maxOccupants: option.integer(0, 1_000_000, 200, "Occupants per room; the next join gets service-unavailable (owners and admins of the room still enter). 0: no limit."),
  maxRoomsPerUser: option.integer(0, 1_000_000, 100, "Rooms one user (all sessions together) may be joined to at once; the next join gets resource-constraint. 0: no limit."),
  maxRoomsCreatedPerUserPerHour: option.integer(0, 1_000_000, 10, "Rooms one user may create per hour; the next creation gets resource-constraint. 0: no limit."),
  maxPersistentRoomsPerUser: option.integer(0, 1_000_000, 10, "Persistent rooms one user may own; making one more persistent gets IQ error not-allowed. 0: no limit."),
  minJoinIntervalSeconds: option.seconds(0, 3600, 2, "A user's join of a room sooner than this after their last join or leave of it gets resource-constraint and the room sees nothing. 0: off."),
  minPresenceIntervalSeconds: option.seconds(0, 3600, 2, "An occupant's status changes closer together than this are coalesced: the room sees the latest one after the interval. 0: off."),
  messagesPerSecond: option.integer(0, 1_000_000, 2, "Groupchat and private messages (and voice requests) per second per occupant; the excess bounces with resource-constraint. 0: no limit."),
  messageBurst: option.integer(1, 1_000_000, 10, "Messages an occupant may send at once after a quiet spell (the bucket of muc.messagesPerSecond)."),
  historyMessages: option.integer(0, 10_000, 20, "Groupchat messages a room keeps for new occupants (XEP-0045 §7.2.14); 0 keeps none."),
};

export type MucOptions = OptionsOf<typeof MUC_OPTIONS>;
