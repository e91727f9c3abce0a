/** Feature modules, one per RFC section or XEP, and the default set the server loads. */
export { rosterModule } from "./roster/index.js";
export { presenceModule } from "./presence/index.js";
export { messageModule } from "./message/index.js";
export { offlineModule } from "./offline/index.js";
export { carbonsModule } from "./carbons/index.js";
export { discoModule, addDiscoItem, type ContactAddresses, type DiscoItem } from "./disco/index.js";
export { pingModule } from "./ping/index.js";
export { versionModule } from "./version/index.js";
export { vcardModule } from "./vcard/index.js";
export { blockingModule } from "./blocking/index.js";
export { registerModule } from "./register/index.js";
export { timeModule } from "./time/index.js";
export { lastModule } from "./last/index.js";
export { privateModule } from "./private/index.js";
export { smModule, NS_SM, SM_OPTIONS, type SmOptions } from "./sm/index.js";
export { csiModule, NS_CSI } from "./csi/index.js";
export { isUrgent } from "./csi/hold.js";
export { BOUND_OPTIONS, DEFAULT_MODULES, defaultModules, type ModuleSettings } from "./defaults.js";
