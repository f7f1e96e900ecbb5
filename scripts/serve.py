"""Serve a built Kiln site on 127.0.0.1 with the right MIME types for WebAssembly and modules,
cross-origin isolated (COOP/COEP), so that the CPU backend computes on every core."""
import http.server
import sys

directory, port = sys.argv[1], int(sys.argv[2])

# What a page needs to share wasm memory between workers (crossOriginIsolated): README's
# "Browsers, SIMD and threads" lists the same headers for common static hosts.
ISOLATION = {
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Embedder-Policy": "require-corp",
}


class Handler(http.server.SimpleHTTPRequestHandler):
    extensions_map = {
        **http.server.SimpleHTTPRequestHandler.extensions_map,
        ".wasm": "application/wasm",
        ".js": "text/javascript",
        ".svg": "image/svg+xml",
    }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, directory=directory, **kwargs)

    def end_headers(self):
        for name, value in ISOLATION.items():
            self.send_header(name, value)
        super().end_headers()


http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
