"""The text of a QR code in a picture: what an advertiser's QR image points to (`message.qr`).

Pictures come from anyone in a group, so they are hostile input: one over MAX_BYTES is refused before it is
opened, one declaring more than MAX_PIXELS (a decompression bomb: a small file that unpacks to gigabytes) is
refused from its header, before its pixels are decoded, and the work runs in a small pool of its own threads,
off the event loop, with a time limit, so a slow picture never holds up the other events.
"""

from __future__ import annotations

import asyncio
import io
import warnings
from concurrent.futures import ThreadPoolExecutor

import zxingcpp
from PIL import Image, UnidentifiedImageError

MAX_BYTES = 10 * 1024 * 1024  # a WeChat picture is rarely over 5 MB; a bigger one is not read
MAX_PIXELS = 40_000_000  # about 7000 x 5700: any phone photo; reading one this big takes under a second
DECODE_TIMEOUT = 10.0  # seconds for one picture, however busy the pool is
WORKERS = 2  # decodes at a time; more pictures wait their turn in the pool, never on the event loop

# Pillow's own decompression-bomb guard, set explicitly rather than left to its default: it refuses pictures
# declaring over twice this from their header, and `_read` refuses those over it before loading a pixel (so its
# warning for the ones in between says nothing new).
Image.MAX_IMAGE_PIXELS = MAX_PIXELS
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)

_pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="qunguan-qr")


class ImageRefused(Exception):
    """A picture that cannot or may not be read (too big, corrupt, too slow): one line saying why."""


def refuse_size(size: int) -> None:
    """Raise for a picture over MAX_BYTES: a downloader calls this as the bytes come in, to stop early."""
    if size > MAX_BYTES:
        raise ImageRefused(f"the picture is over {MAX_BYTES // (1024 * 1024)} MB")


def _read(data: bytes) -> str | None:
    refuse_size(len(data))
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise ImageRefused(f"the picture declares {width} x {height} pixels (over {MAX_PIXELS:,})")
            image.load()
            found = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
    except Image.DecompressionBombError as exc:
        raise ImageRefused(f"the picture declares too many pixels: {exc}") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:  # what Pillow raises on a bad file
        raise ImageRefused(f"the picture cannot be read ({type(exc).__name__}: {exc})") from None
    texts = [code.text for code in found if code.text]
    return texts[0] if texts else None


async def read_qr(data: bytes, *, timeout: float = DECODE_TIMEOUT) -> str | None:
    """The text of the first QR code in the picture, None when it has none; ImageRefused when it cannot be read
    within the limits (the caller logs that and handles the message as a picture without a QR code)."""
    refuse_size(len(data))
    work = asyncio.get_running_loop().run_in_executor(_pool, _read, data)
    try:
        return await asyncio.wait_for(work, timeout)
    except TimeoutError:
        raise ImageRefused(f"reading the picture took longer than {timeout:g} s") from None
