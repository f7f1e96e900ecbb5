"""Serve a built Kiln site on 127.0.0.1 with the right MIME types for WebAssembly and modules,
and with the headers its `_headers` file asks for, as Netlify and Cloudflare Pages send them:
Kiln's (from www/_headers) make the site cross-origin isolated (COOP/COEP), so that the CPU
backend computes on every core."""
import fnmatch
import http.server
import os
import sys
from urllib.parse import unquote, urlsplit

directory, port = sys.argv[1], int(sys.argv[2])


def read_rules(path):
    """The rules of a `_headers` file, as (path pattern, [(name, value)]) pairs: a pattern starts
    a line, its headers are the indented `Name: value` lines below it, `#` starts a comment. A
    `*` in a pattern matches anything, as the hosts' splat does (their `:placeholder`s are not
    read)."""
    rules = []
    with open(path, encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            text = line.strip()
            if not text or text.startswith("#"):
                continue
            if not line[0].isspace():
                rules.append((text, []))
                continue
            name, colon, value = text.partition(":")
            if not colon or not rules:
                sys.exit(f"{path}:{number}: expected a path, or an indented 'Name: value' below one")
            rules[-1][1].append((name.strip(), value.strip()))
    return rules


HEADERS_FILE = os.path.join(directory, "_headers")
RULES = read_rules(HEADERS_FILE) if os.path.exists(HEADERS_FILE) else []
if not any(headers for _, headers in RULES):
    print(f"{HEADERS_FILE} names no headers: pages are not cross-origin isolated, and Kiln's CPU "
          "backend runs on one thread", file=sys.stderr)


class Handler(http.server.SimpleHTTPRequestHandler):
    extensions_map = {
        **http.server.SimpleHTTPRequestHandler.extensions_map,
        ".wasm": "application/wasm",
        ".js": "text/javascript",
        ".svg": "image/svg+xml",
    }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, directory=directory, **kwargs)

    @property
    def site_path(self):
        """The request's path on the site, as `_headers` rules name paths."""
        return unquote(urlsplit(self.path).path)

    def send_head(self):
        # The hosts read `_headers` rather than publish it.
        if self.site_path == "/_headers":
            self.send_error(404)
            return None
        return super().send_head()

    def end_headers(self):
        path = self.site_path
        for pattern, headers in RULES:
            if fnmatch.fnmatchcase(path, pattern):
                for name, value in headers:
                    self.send_header(name, value)
        super().end_headers()


http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
