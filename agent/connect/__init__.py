"""Connect: the customer's screen and chat, shared with the request's experts through the queue.

- :mod:`agent.connect.channel`: the session's WebSocket to the queue (the customer's presence);
- :mod:`agent.connect.capture`: the screen as a picture, one backend per operating system;
- :mod:`agent.connect.frames`: change detection and JPEG frames;
- :mod:`agent.connect.sharing`: the capture loop with one frame in flight;
- :mod:`agent.connect.session`: consent, sharing bar and chat around them, shown through a view
  (the Tk UI implements it; the session itself needs no window).

Nothing of the screen is captured before the customer allows it in the consent dialog, and
only viewing is ever offered (consent scope ``view``).
"""
