"""Tiny Shakespeare (Karpathy's char-rnn): 1,115,394 characters, 65 symbols."""
from . import DataError, locate

URL = "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt"
SHA256 = "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"
NAMES = ["tinyshakespeare/input.txt", "tinyshakespeare.txt"]


def load(data_dir=None, download=True):
    """The whole text as a str, read from the first verified copy found."""
    path = locate(NAMES, SHA256, URL, data_dir, download)
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise DataError(f"{path} is not UTF-8 text: {e}") from e
