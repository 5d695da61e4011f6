"""Sharing the screen: capture, send only what changed, one frame in flight.

The sharer looks at the screen every :data:`POLL_SECONDS`. Where the capture hears of changes
from the system (:attr:`~agent.connect.capture.Capture.watches_changes`: X11's DAMAGE) it grabs
only after one, and every :data:`RECHECK_SECONDS` in case a change went unreported, so a still
screen costs almost nothing; elsewhere it grabs and compares, every :data:`IDLE_POLL_SECONDS`
once the screen has stood still for :data:`IDLE_AFTER_GRABS` grabs (:meth:`Sharer.nudge`, a
change or a refresh bring the quick pace back). A picture that differs from the last one sent
becomes a frame: a region frame of the changed box when that is a small part of the
screen, else a whole JPEG (always the first, after :meth:`Sharer.refresh` and after a frame whose
ack did not come: it may never have arrived). After a frame it waits for the server's ``ack``
(an expert has drawn it) or :data:`ACK_TIMEOUT` seconds, whichever comes first, so the rate
adapts to the slowest link and a static screen costs no bytes at all; slow acks lower the JPEG
quality (:class:`~agent.connect.frames.QualityLadder`), fast ones raise it again, and once the
screen stands still after frames below the top quality it is sent once more, whole and sharp.
Under remote control the expert may pick one monitor: :meth:`Sharer.show_area` crops the grabs to it.
"""

import logging
import threading
import time
from collections.abc import Callable

from PIL import Image

from agent.connect.capture import Capture, CaptureFailed
from agent.connect.frames import Box, ChangeDetector, QualityLadder, encode_jpeg, encode_region, region_of, scaled

log = logging.getLogger("sosqueue.agent.connect")

POLL_SECONDS = 0.08
#: Even where the system reports changes, a grab at least this often: a driver that draws past
#: the X server (direct rendering) may leave a change unreported.
RECHECK_SECONDS = 5.0
#: Without change reports: after this many grabs of an unchanged screen in a row (2 s at
#: POLL_SECONDS), grab every IDLE_POLL_SECONDS only, until the screen changes or nudge().
IDLE_AFTER_GRABS = 25
IDLE_POLL_SECONDS = 0.25
ACK_TIMEOUT = 1.0
#: After this many failed grabs in a row the screen cannot be shared (not one busy moment).
MAX_FAILED_GRABS = 50


class Sharer:
    """One period of sharing: from :meth:`start` (after the customer allowed it) to :meth:`stop`.

    :param open_capture: makes the capture; called once, in the sharer's thread, after start.
    :param send_frame: hands one frame on to be sent, without waiting for the network (the
        channel queues it); False when it could not (the channel is down).
    :param on_end: called from the sharer's thread when sharing ends by itself (reason:
        ``channel`` or ``capture``), not after :meth:`stop`.
    """

    def __init__(self, open_capture: Callable[[], Capture], send_frame: Callable[[bytes], bool], *,
                 poll_seconds: float = POLL_SECONDS, ack_timeout: float = ACK_TIMEOUT,
                 recheck_seconds: float = RECHECK_SECONDS, idle_poll_seconds: float = IDLE_POLL_SECONDS,
                 on_end: Callable[[str], None] = lambda reason: None):
        self._open_capture = open_capture
        self._send_frame = send_frame
        self._poll = poll_seconds
        self._recheck = recheck_seconds
        self._idle_poll = max(idle_poll_seconds, poll_seconds)
        self._ack_timeout = ack_timeout
        self._on_end = on_end
        self._stopped = threading.Event()
        self._acked = threading.Event()
        self._wake = threading.Event()  # ends a pause between looks at the screen
        # Held only while a frame is handed on (which never waits for the network): once stop()
        # has it, no frame follows, so a view_stop queued after stop() is the last word.
        self._lock = threading.Lock()
        self._screen = ChangeDetector()  # the captured pictures: a cheap "anything new?"
        self._sent = ChangeDetector()  # the scaled pictures sent: where it changed
        self._whole_wanted = False  # set from other threads by refresh(); the sharer's thread clears it
        self._area: Box | None = None  # the part of the captured picture to send, None: all of it
        self._area_lock = threading.Lock()  # the area and the whole frame it needs change together
        self._sent_at = 0.0
        self._blurred = False  # the last frame went below the top quality
        self._still_grabs = 0  # grabs of an unchanged screen in a row
        self.quality = QualityLadder()
        self._thread = threading.Thread(target=self._run, name="sosqueue-share", daemon=True)
        self.frames_sent = 0  # handed to the channel (on a slow link a newer one may replace one waiting)
        self.bytes_sent = 0
        self.polls = 0  # looks at the screen: a grab, or the capture's word that nothing changed
        self.grabs = 0  # pictures grabbed
        self.ack_timeouts = 0  # frames sent because the previous one's ack did not come in time
        self.regions_sent = 0  # of frames_sent, region frames

    @property
    def sharing(self) -> bool:
        return self._thread.is_alive() and not self._stopped.is_set()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop at once: after this returns no frame is handed on (safe from any thread, never blocks for long)."""
        with self._lock:
            self._stopped.set()
        self._acked.set()  # wake the thread if it waits for an ack
        self._wake.set()

    def acknowledge(self) -> None:
        """The server says an expert drew the last frame: the next may go."""
        self._acked.set()

    def refresh(self) -> None:
        """Send the whole screen with the next frame (a new expert is watching, or one missed a region)."""
        self._whole_wanted = True
        self._wake.set()

    def nudge(self) -> None:
        """Something is about to change the screen (input arrived): look at it at the quick pace again."""
        self._still_grabs = 0
        self._wake.set()

    @property
    def interval(self) -> float:
        """Seconds until the next look at the screen: :data:`POLL_SECONDS`, or the idle pace when
        grabs are compared and the screen has stood still."""
        return self._idle_poll if self._still_grabs >= IDLE_AFTER_GRABS else self._poll

    def show_area(self, box: Box | None) -> None:
        """Send only ``box`` (left, top, right, bottom in the captured picture) from the next frame
        on, None: all of it; the next frame is whole (safe from any thread)."""
        with self._area_lock:
            self._area = box
            self._whole_wanted = True
        self._wake.set()

    def join(self, timeout: float | None = None) -> None:
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def _run(self) -> None:
        if self._stopped.is_set():
            return
        try:
            capture = self._open_capture()
        except ImportError as error:
            log.warning("%s", error)
            self._end("capture")
            return
        try:
            self._share(capture)
        except Exception:
            log.exception("sharing the screen failed")
            self._end("capture")
        finally:
            capture.close()

    def _share(self, capture: Capture) -> None:
        in_flight = False
        failures = 0
        grabbed_at = float("-inf")
        while not self._stopped.is_set():
            if in_flight:
                acked = self._acked.wait(self._ack_timeout)
                in_flight = False
                if self._stopped.is_set():
                    return
                self.quality.observe(time.monotonic() - self._sent_at if acked else None)
                if not acked:
                    self._whole_wanted = True  # that frame may still wait in a queue, to be replaced by the next
            with self._area_lock:
                area, whole_wanted, self._whole_wanted = self._area, self._whole_wanted, False
            self.polls += 1
            if not (whole_wanted or self._blurred or self._worth_a_grab(capture, grabbed_at)):
                self._pause(self._poll)
                continue
            try:
                image = cropped(capture.grab(), area)
            except CaptureFailed as error:
                failures += 1
                if failures >= MAX_FAILED_GRABS:
                    log.warning("the screen cannot be captured: %s", error)
                    self._end("capture")
                    return
                if whole_wanted:
                    self._whole_wanted = True  # for the next grab that works
                self._pause(self._poll)
                continue
            failures = 0
            grabbed_at = time.monotonic()
            self.grabs += 1
            if whole_wanted:
                self._screen.forget()
                self._sent.forget()
                self._still_grabs = 0
            screen_box = self._screen.changed_box(image)
            changed = screen_box is not None
            if not changed and not self._blurred:
                self._still_grabs += not capture.watches_changes
                self._pause(self.interval)
                continue
            self._still_grabs = 0
            picture = scaled(image)  # grabs are RGB already
            if changed:
                # Unscaled, the picture is the grab, and both detectors remember the same pictures.
                box = screen_box if picture is image else self._sent.changed_box(picture)
                if box is None:  # the change vanished in scaling
                    self._screen.remember(image)
                    self._pause(self._poll)
                    continue
                region, quality = region_of(box, picture.size), self.quality.quality
            else:  # the screen stands still after frames below the top quality: once more, sharp
                region, quality = None, QualityLadder.RUNGS[0]
            try:
                if region is None:
                    frame = encode_jpeg(picture, quality=quality)
                else:
                    frame = encode_region(picture, region, quality=quality)
            except ValueError as error:
                log.warning("a frame was left out: %s", error)
                self._pause(self._poll)
                continue
            sent = self._send(frame)
            if sent is None:
                return
            if not sent:
                self._end("channel")
                return
            self.regions_sent += region is not None
            self._blurred = quality < QualityLadder.RUNGS[0]
            self._screen.remember(image)
            self._sent.remember(picture)
            in_flight = True

    def _worth_a_grab(self, capture: Capture, grabbed_at: float) -> bool:
        """Whether the capture reports a change, or the last grab is so old that one is due anyway."""
        return capture.changed() or time.monotonic() - grabbed_at >= self._recheck

    def _pause(self, seconds: float) -> None:
        """Wait ``seconds``, or less when stopped, nudged, refreshed or given another area."""
        self._wake.wait(seconds)
        self._wake.clear()

    def _send(self, frame: bytes) -> bool | None:
        """True when handed on, False when the channel is down, None when stopped meanwhile."""
        with self._lock:
            if self._stopped.is_set():
                return None
            late = self.frames_sent > 0 and not self._acked.is_set()
            self._acked.clear()
            if not self._send_frame(frame):
                return False
            self.ack_timeouts += late
            self.frames_sent += 1
            self.bytes_sent += len(frame)
            self._sent_at = time.monotonic()
            return True

    def _end(self, reason: str) -> None:
        with self._lock:
            if self._stopped.is_set():
                return
            self._stopped.set()
        self._on_end(reason)


def cropped(image: Image.Image, box: Box | None) -> Image.Image:
    """The part ``box`` of ``image`` (kept within it), or all of it for None or a box outside it."""
    if box is None:
        return image
    left, top, right, bottom = box
    inside = (max(left, 0), max(top, 0), min(right, image.width), min(bottom, image.height))
    if inside[0] >= inside[2] or inside[1] >= inside[3]:
        return image
    return image.crop(inside) if inside != (0, 0, image.width, image.height) else image
