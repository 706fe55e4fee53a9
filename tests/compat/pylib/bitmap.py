"""The two calls tini's test/run_inner_tests.py makes of the PyPI `bitmap` package (not in
Debian): BitMap.fromstring("0101...") and .nonzero(), with the string's last character as bit 0."""


class BitMap:
    def __init__(self, bits):
        self._bits = bits

    @classmethod
    def fromstring(cls, text):
        return cls([i for i, c in enumerate(reversed(text)) if c == "1"])

    def nonzero(self):
        return list(self._bits)
