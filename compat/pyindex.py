"""A loopback Python package index (PEP 503, static) for the compat suite.

Builds small wheels (a package with a dependency, in the layout pip
installs), writes the simple index pages for them and serves the folder on
127.0.0.1. Prints the index URL on its first line, then serves until
killed. Usage: python3 pyindex.py DIR
"""
import base64
import hashlib
import http.server
import os
import sys
import zipfile

DISTS = [
    # name, version, module, requires, code
    ("colorword", "1.0", "colorword", [], "WORD = 'red'\n"),
    ("colorword", "2.0", "colorword", [], "WORD = 'blue'\n"),
    ("greeter", "1.0", "greeter", ["colorword"],
     "import colorword\n\ndef hello(name):\n    return 'hello ' + name + ' in ' + colorword.WORD\n"),
]


def record_line(name, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def wheel(root, name, version, module, requires, code):
    info = f"{name}-{version}.dist-info"
    files = {
        f"{module}/__init__.py": code.encode(),
        f"{info}/METADATA": ("Metadata-Version: 2.1\nName: %s\nVersion: %s\n" % (name, version)
                             + "".join(f"Requires-Dist: {r}\n" for r in requires)).encode(),
        f"{info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: millrun-compat\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = [record_line(n, d) for n, d in files.items()] + [f"{info}/RECORD,,"]
    files[f"{info}/RECORD"] = ("\n".join(record) + "\n").encode()
    fname = f"{name}-{version}-py3-none-any.whl"
    os.makedirs(os.path.join(root, "simple", name), exist_ok=True)
    path = os.path.join(root, "simple", name, fname)
    with zipfile.ZipFile(path, "w") as z:
        for n, d in files.items():
            z.writestr(n, d)
    return fname


def main():
    root = sys.argv[1]
    links = {}
    for d in DISTS:
        links.setdefault(d[0], []).append(wheel(root, *d))
    for name, files in links.items():
        with open(os.path.join(root, "simple", name, "index.html"), "w") as f:
            f.write("<!DOCTYPE html><html><body>\n" + "".join(f'<a href="{x}">{x}</a>\n' for x in files) + "</body></html>\n")
    with open(os.path.join(root, "simple", "index.html"), "w") as f:
        f.write("<!DOCTYPE html><html><body>\n" + "".join(f'<a href="{n}/">{n}</a>\n' for n in links) + "</body></html>\n")

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **kw):
            super().__init__(*a, directory=root, **kw)

        def log_message(self, *a):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    print(f"http://127.0.0.1:{srv.server_address[1]}/simple", flush=True)
    srv.serve_forever()


main()
