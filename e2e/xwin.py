#!/usr/bin/python3
"""Small X11 helper for the desktop smoke test, where no window manager runs.

  xwin.py state TITLE   prints "shown" or "hidden" for the top-level window TITLE
  xwin.py close TITLE   asks TITLE to close, as a window manager's close button does
  xwin.py wait TITLE STATE [SECONDS]   waits until TITLE is STATE (or exists: "any")
"""
import sys
import time

from Xlib import X, display, protocol


def windows(d, title):
    found = []

    def walk(w):
        try:
            name = w.get_wm_name()
            children = w.query_tree().children
        except Exception:  # windows come and go while we look
            return
        if name == title:
            found.append(w)
        for c in children:
            walk(c)

    walk(d.screen().root)
    return found


def state(d, title):
    ws = windows(d, title)
    if not ws:
        return "missing"
    # GTK maps the frame it shows; a hidden window is unmapped.
    return "shown" if any(w.get_attributes().map_state == X.IsViewable for w in ws) else "hidden"


def close(d, title):
    ws = windows(d, title)
    if not ws:
        sys.exit(f"no window titled {title!r}")
    protocols = d.intern_atom("WM_PROTOCOLS")
    delete = d.intern_atom("WM_DELETE_WINDOW")
    for w in ws:
        if w.get_attributes().map_state != X.IsViewable:
            continue
        ev = protocol.event.ClientMessage(window=w, client_type=protocols, data=(32, [delete, X.CurrentTime, 0, 0, 0]))
        w.send_event(ev)
    d.flush()


def main():
    d = display.Display()
    cmd, title = sys.argv[1], sys.argv[2]
    if cmd == "state":
        print(state(d, title))
    elif cmd == "close":
        close(d, title)
    elif cmd == "wait":
        want, limit = sys.argv[3], float(sys.argv[4]) if len(sys.argv) > 4 else 10
        end = time.time() + limit
        while time.time() < end:
            s = state(d, title)
            if s == want or (want == "any" and s != "missing"):
                return
            time.sleep(0.1)
        sys.exit(f"{title!r} is {state(d, title)}, not {want}, after {limit} s")
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
