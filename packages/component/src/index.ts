/**
 * External components (XEP-0114): the `jabber:component:accept` listener on components.port
 * (listener.ts, component-stream.ts), where each component is connected in the cluster
 * (directory.ts) and the routing of their domains (routing.ts).
 */
export { componentsModule, COMPONENT_ROUTE, type ComponentHost, type ComponentsModuleDeps } from "./routing.js";
export { ComponentDirectory } from "./directory.js";
export { listenForComponents, MAX_UNAUTHENTICATED, type ComponentListener, type ComponentListenerOptions } from "./listener.js";
export { handshakeDigest, NS_COMPONENT } from "./component-stream.js";
