#!/usr/bin/python3
"""A desktop's session services, as millrun's engine meets them, for the
Xvfb test (no GNOME shell runs here): the status area's watcher
(org.kde.StatusNotifierWatcher, as KDE's panel or GNOME's AppIndicator
extension owns it) and the notification service
(org.freedesktop.Notifications).

  desktop-bus.py serve DIR      run both until killed; items that register
                                are written to DIR/items, notifications to
                                DIR/notes (one JSON line each)
  desktop-bus.py menu ITEM      print the item's menu labels, one a line
  desktop-bus.py click ITEM LABEL   click the menu entry starting with LABEL
  desktop-bus.py invoke ID      click notification ID (its default action)

Debian's python3-dbus and python3-gi (make setup-test installs them)."""
import json
import os
import sys

import dbus
import dbus.mainloop.glib
import dbus.service

WATCHER = "org.kde.StatusNotifierWatcher"
NOTES = "org.freedesktop.Notifications"
MENU = "com.canonical.dbusmenu"


class Watcher(dbus.service.Object):
    def __init__(self, bus, out):
        super().__init__(bus, "/StatusNotifierWatcher")
        self.out = out

    @dbus.service.method(WATCHER, in_signature="s", sender_keyword="sender")
    def RegisterStatusNotifierItem(self, service, sender=None):
        with open(self.out, "a") as f:
            f.write(sender + "\n")


class Notifications(dbus.service.Object):
    def __init__(self, bus, out):
        super().__init__(bus, "/org/freedesktop/Notifications")
        self.out = out
        self.next = 0

    @dbus.service.method(NOTES, in_signature="susssasa{sv}i", out_signature="u", sender_keyword="sender")
    def Notify(self, app, replaces, icon, summary, body, actions, hints, timeout, sender=None):
        self.next += 1
        with open(self.out, "a") as f:
            f.write(json.dumps({"id": self.next, "summary": str(summary), "body": str(body), "sender": str(sender)}) + "\n")
        return self.next

    @dbus.service.method(NOTES, out_signature="as")
    def GetCapabilities(self):
        return ["actions", "body"]

    @dbus.service.method(NOTES, in_signature="u")
    def Invoke(self, id):
        self.ActionInvoked(id, "default")

    @dbus.service.signal(NOTES, signature="us")
    def ActionInvoked(self, id, key):
        pass


def labels(item):
    bus = dbus.SessionBus()
    menu = dbus.Interface(bus.get_object(item, "/StatusNotifierItem/menu"), MENU)
    _, (_, _, children) = menu.GetLayout(0, -1, [])
    return [(int(c[0]), str(c[1].get("label", ""))) for c in children]


def main():
    cmd = sys.argv[1]
    if cmd == "serve":
        from gi.repository import GLib
        dbus.mainloop.glib.DBusGMainLoop(set_as_default=True)
        bus = dbus.SessionBus()
        keep = [dbus.service.BusName(WATCHER, bus), dbus.service.BusName(NOTES, bus),
                Watcher(bus, os.path.join(sys.argv[2], "items")), Notifications(bus, os.path.join(sys.argv[2], "notes"))]
        print("ready", flush=True)
        GLib.MainLoop().run()
        return keep
    if cmd == "menu":
        for _, label in labels(sys.argv[2]):
            print(label)
    elif cmd == "click":
        for id, label in labels(sys.argv[2]):
            if label.startswith(sys.argv[3]):
                menu = dbus.Interface(dbus.SessionBus().get_object(sys.argv[2], "/StatusNotifierItem/menu"), MENU)
                menu.Event(id, "clicked", dbus.String("", variant_level=1), dbus.UInt32(0))
                return
        sys.exit("no menu entry " + sys.argv[3])
    elif cmd == "invoke":
        notes = dbus.Interface(dbus.SessionBus().get_object(NOTES, "/org/freedesktop/Notifications"), NOTES)
        notes.Invoke(dbus.UInt32(int(sys.argv[2])))


if __name__ == "__main__":
    main()
