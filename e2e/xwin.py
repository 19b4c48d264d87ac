#!/usr/bin/python3
"""Small X11 helper for the desktop smoke test, where no window manager runs.

  xwin.py state TITLE   prints "shown" or "hidden" for the top-level window TITLE
  xwin.py close TITLE   asks TITLE to close, as a window manager's close button does
  xwin.py wait TITLE STATE [SECONDS]   waits until TITLE is STATE (or exists: "any")
  xwin.py click X Y     clicks the left button at X, Y (screen pixels)
  xwin.py keys COMBO... presses key combinations, e.g. Control_L+a x Return
  xwin.py geometry TITLE   prints "X Y WIDTH HEIGHT" of the shown window TITLE
"""
import sys
import time

from Xlib import X, XK, display, protocol
from Xlib.ext import xtest


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


def click(d, x, y):
    d.screen().root.warp_pointer(x, y)
    d.sync()
    xtest.fake_input(d, X.ButtonPress, 1)
    d.sync()
    time.sleep(0.05)
    xtest.fake_input(d, X.ButtonRelease, 1)
    d.sync()


def keys(d, combos):
    for combo in combos:
        codes = []
        for name in combo.split("+"):
            sym = XK.string_to_keysym(name)
            if sym == 0:
                sys.exit(f"unknown key {name!r}")
            codes.append(d.keysym_to_keycode(sym))
        for c in codes:
            xtest.fake_input(d, X.KeyPress, c)
        d.sync()
        time.sleep(0.05)
        for c in reversed(codes):
            xtest.fake_input(d, X.KeyRelease, c)
        d.sync()
        time.sleep(0.05)


def main():
    d = display.Display()
    cmd = sys.argv[1]
    if cmd == "click":
        click(d, int(sys.argv[2]), int(sys.argv[3]))
        return
    if cmd == "keys":
        keys(d, sys.argv[2:])
        return
    title = sys.argv[2]
    if cmd == "state":
        print(state(d, title))
    elif cmd == "close":
        close(d, title)
    elif cmd == "geometry":
        for w in windows(d, title):
            if w.get_attributes().map_state != X.IsViewable:
                continue
            g = w.get_geometry()
            at = w.translate_coords(d.screen().root, 0, 0)
            print(-at.x, -at.y, g.width, g.height)
            return
        sys.exit(f"no shown window titled {title!r}")
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
