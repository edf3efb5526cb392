"""A stand-in for ``urllib.request.urlopen`` that serves files from memory (tests only)."""
import io
import urllib.error


class FakeResponse(io.BytesIO):
    def __init__(self, body: bytes, status: int, length: int):
        super().__init__(body)
        self.status, self.headers = status, {"Content-Length": str(length)}

    def getcode(self):
        return self.status


class FakeServer:
    """Serves ``files`` like urlopen; ``cut`` sends only that many bytes of a response (but
    announces the full length); ``ranges`` says whether Range requests are honoured."""

    def __init__(self, files, cut=None, ranges=True, offline=False, status=None):
        self.files, self.cut, self.ranges, self.offline, self.status = files, cut, ranges, \
            offline, status
        self.requests = []

    def __call__(self, request, timeout=None):
        self.requests.append((request.full_url, request.get_header("Range")))
        if self.offline:
            raise urllib.error.URLError("[Errno -2] Name or service not known")
        if self.status:
            raise urllib.error.HTTPError(request.full_url, self.status, "Not Found", {}, None)
        data, start, status = self.files[request.full_url], 0, 200
        asked = request.get_header("Range")
        if asked and self.ranges:
            start, status = int(asked[len("bytes="):-1]), 206
            if start >= len(data):
                raise urllib.error.HTTPError(request.full_url, 416, "Range Not Satisfiable", {},
                                             None)
        body = data[start:]
        return FakeResponse(body[:self.cut] if self.cut else body, status, len(body))
