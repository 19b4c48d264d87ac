import { sessionApi, setWorkspace, tunnelApi, type Me, type TunnelView } from "./api";

export const session = $state<{ me: Me | null; checked: boolean; tunnel: TunnelView | null }>({ me: null, checked: false, tunnel: null });

export async function loadSession() {
  try {
    session.me = await sessionApi.whoami();
    setWorkspace(session.me.workspace);
  } catch {
    session.me = null;
  }
  session.checked = true;
}

// The tunnel's state follows its server-sent events, so webhook panels
// show the public URLs the moment it is online.
let events: EventSource | null = null;
export function watchTunnel() {
  events?.close();
  events = tunnelApi.events();
  events.addEventListener("status", (e) => {
    session.tunnel = JSON.parse((e as MessageEvent).data) as TunnelView;
  });
}
