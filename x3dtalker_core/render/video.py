"""mp4 files through PyAV (which ships its own FFmpeg): H.264 yuv420p video with AAC audio muxed.

Audio is encoded in slices that follow the video frames, so the two streams interleave in the file
and a player starts both at time 0. Reading helpers decode a file back for checks and tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from ..errors import InvalidFileError, X3DError
from ..io_utils import atomic_path


def import_av():
    try:
        import av
    except ImportError:
        raise X3DError("video files need the 'av' package (PyAV): pip install av") from None
    return av


def to_uint8_frames(frames: np.ndarray, keep_grey: bool = False) -> np.ndarray:
    """(T, H, W, 3) uint8 from float [0, 1] or uint8 frames; (T, H, W) grey is replicated to RGB
    unless ``keep_grey`` (then it stays (T, H, W)).

    Odd sizes are padded by one edge pixel: yuv420p halves the chroma resolution and needs even sizes.
    """
    arr = np.asarray(frames)
    if arr.ndim == 3:
        arr = arr[..., None]
    if arr.ndim != 4 or arr.shape[0] == 0 or arr.shape[-1] not in (1, 3, 4):
        raise X3DError(f"video frames must have shape (T, H, W, 3) or (T, H, W), got {np.shape(frames)}")
    if arr.shape[-1] == 1 and not keep_grey:
        arr = np.repeat(arr, 3, axis=-1)
    arr = arr[..., :3]
    if arr.dtype != np.uint8:
        arr = (np.clip(arr.astype(np.float32), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    pad_h, pad_w = arr.shape[1] % 2, arr.shape[2] % 2
    if pad_h or pad_w:
        arr = np.pad(arr, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), mode="edge")
    if arr.shape[-1] == 1:
        arr = arr[..., 0]
    return np.ascontiguousarray(arr)


class Mp4Writer:
    """Stream frames into an H.264 yuv420p mp4 (AAC audio muxed), written atomically on :meth:`close`.

    Use as a context manager; frames come in batches of (N, H, W, 3) float [0, 1] or uint8, all of
    one size. ``audio`` (mono, [-1, 1], at ``sample_rate``) is muxed alongside each video frame and
    trimmed or padded with silence so both streams end together. ``crf`` is x264's quality (lower is
    better; 18 looks lossless on these renders) and ``preset`` its speed (``veryfast`` keeps encoding
    from dominating on a CPU machine).
    """

    def __init__(
        self,
        path: str | Path,
        fps: float,
        audio: np.ndarray | None = None,
        sample_rate: int = 16000,
        crf: int = 18,
        preset: str = "veryfast",
    ) -> None:
        self._av = import_av()
        if not fps > 0:
            raise X3DError(f"video fps must be positive, got {fps}")
        self.path = Path(path)
        self.rate = Fraction(fps).limit_denominator(1001)
        self.sample_rate = int(sample_rate)
        self.crf, self.preset = crf, preset
        self.audio = None if audio is None else np.clip(np.asarray(audio, np.float32).reshape(-1), -1.0, 1.0)
        self._atomic = atomic_path(self.path, suffix=".mp4")
        self._tmp = self._atomic.__enter__()
        self._container = self._av.open(str(self._tmp), mode="w", format="mp4")
        self._vstream = self._astream = None
        self.frames_written = 0
        self._audio_sent = 0
        self._finished = False

    def _open_streams(self, width: int, height: int) -> None:
        self._vstream = self._container.add_stream("libx264", rate=self.rate)
        self._vstream.width, self._vstream.height, self._vstream.pix_fmt = width, height, "yuv420p"
        self._vstream.options = {"crf": str(self.crf), "preset": self.preset}
        if self.audio is not None:
            self._astream = self._container.add_stream("aac", rate=self.sample_rate)
            self._astream.layout = "mono"

    def _send_audio(self, upto: int) -> None:
        if upto <= self._audio_sent:
            return
        chunk = self.audio[self._audio_sent : upto]
        if chunk.shape[0] < upto - self._audio_sent:  # past the end of the driving audio: silence
            chunk = np.concatenate([chunk, np.zeros(upto - self._audio_sent - chunk.shape[0], np.float32)])
        frame = self._av.AudioFrame.from_ndarray(chunk[None], format="fltp", layout="mono")
        frame.sample_rate = self.sample_rate
        frame.pts = self._audio_sent
        frame.time_base = Fraction(1, self.sample_rate)
        self._container.mux(self._astream.encode(frame))
        self._audio_sent = upto

    def write(self, frames: np.ndarray) -> None:
        """Append ``frames``: (N, H, W, 3) colour or (N, H, W) grey, float [0, 1] or uint8."""
        video = to_uint8_frames(frames, keep_grey=True)
        if self._vstream is None:
            self._open_streams(video.shape[2], video.shape[1])
        elif (video.shape[2], video.shape[1]) != (self._vstream.width, self._vstream.height):
            raise X3DError("all frames of a video must have the same size")
        # grey goes in as one plane: the encoder's own conversion to yuv420p gives what replicated RGB would
        pixel_format = "gray" if video.ndim == 3 else "rgb24"
        for image in video:
            self._container.mux(self._vstream.encode(self._av.VideoFrame.from_ndarray(image, format=pixel_format)))
            self.frames_written += 1
            if self._astream is not None:  # audio up to the end of this video frame
                self._send_audio(int(round(self.frames_written * self.sample_rate / float(self.rate))))

    def close(self) -> Path:
        """Flush the encoders and move the file into place."""
        if self._vstream is None:
            self.abort()
            raise X3DError(f"no frames were written to {self.path}")
        try:
            self._container.mux(self._vstream.encode(None))
            if self._astream is not None:
                self._container.mux(self._astream.encode(None))
            self._container.close()
        except BaseException:
            self.abort()
            raise
        self._finished = True
        self._atomic.__exit__(None, None, None)
        return self.path

    def abort(self) -> None:
        """Drop the partial file (a no-op once the file is closed or aborted)."""
        if self._finished:
            return
        self._finished = True
        try:
            self._container.close()
        finally:
            self._atomic.__exit__(X3DError, X3DError("aborted"), None)

    def __enter__(self) -> Mp4Writer:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


class EncoderThread:
    """An :class:`Mp4Writer` fed through a bounded queue by its own thread, so encoding overlaps rendering.

    :meth:`put` blocks once ``max_queued`` frames wait (memory stays flat however long the clip) and
    re-raises the first error the encoder hit. :meth:`close` flushes and moves the file into place;
    :meth:`abort` (cancel or error) stops after the frame being encoded and leaves no file. The writer
    is used only by the thread once started (PyAV releases the GIL while x264 encodes).
    """

    _DONE = object()

    def __init__(self, writer: Mp4Writer, max_queued: int = 8) -> None:
        import queue
        import threading

        self.writer = writer
        self.path = writer.path
        self._queue: queue.Queue = queue.Queue(maxsize=max(1, int(max_queued)))
        self._aborted = threading.Event()
        self._error: BaseException | None = None
        self._closed = False
        self._thread = threading.Thread(target=self._run, name=f"encode {self.path.name}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while True:
                item = self._queue.get()
                if self._aborted.is_set():
                    break
                if item is self._DONE:
                    self.writer.close()
                    return
                self.writer.write(item)
        except BaseException as exc:  # handed to the caller's next put/close
            self._error = exc
        self.writer.abort()
        while not self._queue.empty():  # unblock a producer waiting on a full queue
            self._queue.get_nowait()

    def _raise_error(self) -> None:
        if self._error is not None:
            raise self._error

    def put(self, frames: np.ndarray) -> None:
        """Queue (N, H, W, 3) / (N, H, W) frames; the array must not be modified afterwards."""
        import queue

        while True:
            self._raise_error()
            if not self._thread.is_alive():
                raise X3DError(f"the encoder of {self.path} has stopped")
            try:
                self._queue.put(frames, timeout=0.1)
                return
            except queue.Full:
                continue

    def close(self) -> Path:
        """Encode what is queued, flush and move the file into place."""
        self._raise_error()
        self._queue.put(self._DONE)
        self._thread.join()
        self._closed = True
        self._raise_error()
        return self.path

    def abort(self) -> None:
        """Stop encoding and drop the partial file (returns once the thread has finished)."""
        if self._closed:
            return
        self._aborted.set()
        try:
            self._queue.put_nowait(self._DONE)  # wake the thread if it waits on an empty queue
        except Exception:
            pass
        self._thread.join()
        self._closed = True


def write_mp4(
    path: str | Path,
    frames: np.ndarray,
    fps: float,
    audio: np.ndarray | None = None,
    sample_rate: int = 16000,
    crf: int = 18,
) -> Path:
    """Write ``frames`` (T, H, W, 3) float [0, 1] or uint8 as H.264 yuv420p at ``fps``, atomically.

    Args:
        audio: mono (N,) float samples in [-1, 1] at ``sample_rate``, muxed as AAC; it is trimmed or
            padded with silence to the video's duration so both streams end together.
        crf: x264 quality (lower = better; 18 is visually lossless for previews).
    """
    with Mp4Writer(path, fps, audio, sample_rate, crf) as writer:
        writer.write(frames)
    return Path(path)


@dataclass(frozen=True)
class VideoInfo:
    """What :func:`probe_video` reads back from a file (durations in seconds; audio None if absent).

    ``has_audio`` is ``audio_sample_rate is not None``."""

    frames: int
    fps: float
    width: int
    height: int
    video_seconds: float
    audio_seconds: float | None
    audio_sample_rate: int | None
    codec: str
    pix_fmt: str


def probe_video(path: str | Path, decode: bool = True) -> VideoInfo:
    """Measure ``path``'s streams.

    ``decode=True`` (checking a file we wrote) decodes everything: frame count and durations from the
    frames. ``decode=False`` (scanning sources, e.g. hour-long inputs to curate) reads the container
    headers only: durations from the stream (else container) header, frames = duration x fps.
    """
    av = import_av()
    path = Path(path)
    if not path.is_file():
        raise X3DError(f"video file not found: {path}")
    if not decode:
        return _probe_headers(av, path)
    try:
        with av.open(str(path)) as container:
            vstream = container.streams.video[0]
            codec, pix_fmt = vstream.codec_context.name, vstream.codec_context.pix_fmt
            fps = float(vstream.average_rate or vstream.guessed_rate)
            frames = sum(1 for _ in container.decode(vstream))
        audio_seconds = audio_rate = None
        with av.open(str(path)) as container:
            if container.streams.audio:
                astream = container.streams.audio[0]
                audio_rate = astream.codec_context.sample_rate
                audio_seconds = sum(f.samples for f in container.decode(astream)) / audio_rate
                # the decoder also returns the encoder's priming samples, which the container's edit list hides
                if astream.duration is not None:
                    audio_seconds = float(astream.duration * astream.time_base)
    except av.error.FFmpegError as exc:  # type: ignore[attr-defined]
        raise InvalidFileError(f"cannot read video {path}: {exc}") from None
    return VideoInfo(frames, fps, vstream.width, vstream.height, frames / fps, audio_seconds, audio_rate, codec, pix_fmt)


def _probe_headers(av, path: Path) -> VideoInfo:
    def seconds(stream, container) -> float | None:
        if stream.duration is not None and stream.time_base is not None:
            return float(stream.duration * stream.time_base)
        if container.duration is not None:
            return container.duration / 1_000_000  # av.time_base: microseconds
        return None

    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise InvalidFileError(f"{path} has no video stream")
            vs = container.streams.video[0]
            fps = float(vs.average_rate or vs.guessed_rate or 0.0)
            video_seconds = seconds(vs, container)
            if video_seconds is None and vs.frames and fps > 0:
                video_seconds = vs.frames / fps
            if video_seconds is None:  # headers say nothing: count the packets
                video_seconds = sum(1 for p in container.demux(vs) if p.size) / fps if fps > 0 else 0.0
            audio_seconds = audio_rate = None
            if container.streams.audio:
                astream = container.streams.audio[0]
                audio_rate = astream.codec_context.sample_rate
                audio_seconds = seconds(astream, container)
            return VideoInfo(int(round(video_seconds * fps)), fps, vs.codec_context.width, vs.codec_context.height,
                             video_seconds, audio_seconds, audio_rate, vs.codec_context.name,
                             vs.codec_context.pix_fmt or "")
    except av.error.FFmpegError as exc:  # type: ignore[attr-defined]
        raise InvalidFileError(f"cannot read video {path}: {exc}") from None


def read_video_frames(path: str | Path) -> np.ndarray:
    """(T, H, W, 3) uint8 RGB frames decoded from ``path``."""
    av = import_av()
    try:
        with av.open(str(path)) as container:
            return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])
    except av.error.FFmpegError as exc:  # type: ignore[attr-defined]
        raise InvalidFileError(f"cannot read video {path}: {exc}") from None
