"""What a person running scinas sees in the terminal.

* :mod:`scinas.console.native` keeps TensorFlow's C++ start-up lines off standard error (they
  are shown with ``scinas -v``);
* :mod:`scinas.console.progress` shows a run's progress, fed by the run store's listener hook:
  one display for a search, one line per finished trial, the epochs of a single training.

Only the command line uses this package; the library itself logs and never prints.
"""

from scinas.console.native import start_tensorflow
from scinas.console.progress import LiveView, PlainView, RunConsole, RunOutline, View

__all__ = ["LiveView", "PlainView", "RunConsole", "RunOutline", "View", "start_tensorflow"]
