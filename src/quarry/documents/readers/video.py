"""Videos (mp4, mov) through ffmpeg: frames sampled evenly and read with OCR, the sound track
transcribed. ffmpeg is a separate program (Debian's ``ffmpeg``), run with a time limit on
temporary files that are removed afterwards; without it a video cannot be read.

Each distinct frame text is a page (a frame that reads like the one before adds nothing), and
the transcript, when there is one, is the last page.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

from quarry.documents.layout import reading_order_text
from quarry.documents.limits import (
    FFMPEG_TIMEOUT_SECONDS,
    MAX_VIDEO_FRAMES,
    MAX_VIDEO_SECONDS,
    VIDEO_FRAME_WIDTH,
    VIDEO_STEP_SECONDS,
)
from quarry.documents.model import Document, DocumentError, Page, describe, transcript_lines
from quarry.documents.readers import ocr
from quarry.documents.readers.images import open_image

Transcribe = Callable[[str, bytes], str]

_DURATION = re.compile(r"Duration: (\d+):(\d{2}):(\d{2}(?:\.\d+)?)")
_STREAM = re.compile(r"Stream #\S+.*?: (Video|Audio): ")


def read(input_type: str, data: bytes, ffmpeg: str, transcribe: Transcribe | None) -> Document:
    """``ffmpeg``: the program's name on ``PATH``, or its path. Without ``transcribe`` (no
    transcription endpoint) only the frames are read."""
    program = shutil.which(ffmpeg)
    if program is None:
        raise DocumentError(f"{input_type} input needs ffmpeg, which is not installed (QUARRY_FFMPEG={ffmpeg})")
    with tempfile.TemporaryDirectory(prefix="quarry-video-") as folder:
        work = Path(folder)
        source = work / f"input.{input_type}"
        source.write_bytes(data)
        seconds, streams = _probe(program, source)
        if seconds > MAX_VIDEO_SECONDS:
            raise DocumentError(f"the video lasts {seconds:.0f} s; at most {MAX_VIDEO_SECONDS} s are read")
        try:
            pages = _frame_pages(program, source, work, seconds) if "Video" in streams else []
        except DocumentError:
            raise
        except Exception as exc:  # the OCR runtime's or the image decoder's own failure
            raise DocumentError(f"the video's frames cannot be read: {describe(exc)}") from None
        if "Audio" in streams and transcribe is not None:
            transcript = transcript_lines(transcribe("wav", _sound(program, source, work)))
            if transcript:
                pages.append(Page(len(pages) + 1, transcript))
    if not pages:
        raise DocumentError(f"nothing was read in the {input_type} video: no text in its frames and no transcript")
    return Document(input_type, pages=pages)


def _run(program: str, arguments: list[str], what: str) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(
            [program, "-hide_banner", "-nostdin", *arguments],
            capture_output=True,
            timeout=FFMPEG_TIMEOUT_SECONDS,  # decoding runs far faster than playing; a stuck decoder is killed
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise DocumentError(f"ffmpeg took more than {FFMPEG_TIMEOUT_SECONDS} s to {what}") from None


def _probe(program: str, source: Path) -> tuple[float, set[str]]:
    """The video's duration in seconds and the kinds of its streams (``Video``, ``Audio``), from
    what ``ffmpeg -i`` prints about its input."""
    info = _run(program, ["-i", str(source)], "read the file's header").stderr.decode("utf-8", "replace")
    info = info.replace(f"{source}: ", "")  # its messages name the temporary file
    duration = _DURATION.search(info)
    streams = set(_STREAM.findall(info))
    if duration is None or not streams:
        reason = info.strip().splitlines()[-1] if info.strip() else "no answer"
        raise DocumentError(f"the video cannot be decoded: {reason}")
    hours, minutes, seconds = duration.groups()
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds), streams


def _frame_pages(program: str, source: Path, work: Path, seconds: float) -> list[Page]:
    """Frames every ``VIDEO_STEP_SECONDS`` (fewer, evenly spread, past ``MAX_VIDEO_FRAMES``), at
    most ``VIDEO_FRAME_WIDTH`` wide, OCR'd; consecutive frames that read alike make one page."""
    count = max(1, min(MAX_VIDEO_FRAMES, int(seconds // VIDEO_STEP_SECONDS) + 1))
    rate = count / seconds if seconds > 0 else 1.0
    scale = f"scale='min({VIDEO_FRAME_WIDTH},iw)':-2"
    arguments = ["-i", str(source), "-vf", f"fps={rate:.6f},{scale}", "-frames:v", str(count)]
    done = _run(program, [*arguments, str(work / "frame-%03d.png")], "sample the frames")
    frames = sorted(work.glob("frame-*.png"))
    if done.returncode != 0 and not frames:
        raise DocumentError(f"the video's frames cannot be decoded: {_last_line(done.stderr)}")
    pages: list[Page] = []
    previous = None
    for frame in frames:
        words, width, height = ocr.recognise(open_image(frame.read_bytes()))
        text = reading_order_text(words)
        if text.strip() and text != previous:
            pages.append(Page(len(pages) + 1, text, width, height, words, ocr=True))
        previous = text
    return pages


def _sound(program: str, source: Path, work: Path) -> bytes:
    """The sound track as 16 kHz mono WAV, what speech recognisers take."""
    target = work / "sound.wav"
    done = _run(program, ["-i", str(source), "-vn", "-ac", "1", "-ar", "16000", str(target)], "extract the sound")
    if done.returncode != 0 or not target.exists():
        raise DocumentError(f"the video's sound cannot be decoded: {_last_line(done.stderr)}")
    return target.read_bytes()


def _last_line(stderr: bytes) -> str:
    lines = stderr.decode("utf-8", "replace").strip().splitlines()
    return lines[-1] if lines else "no answer"
