"""Keras' progress bar for fit / evaluate / predict.

verbose=1, on a terminal, one line rewritten in place (\\r) with ETA, time per step and the
running metrics, finished with the elapsed time::

    63/63 ━━━━━━━━━━━━━━━━━━━━ 2s 30ms/step - accuracy: 0.9126 - loss: 0.2946

When the output is not a terminal (a log file, a notebook capture) the same line is printed
as plain text at most every ``interval`` seconds (10 by default) and once at the end.
verbose=2 prints only the final line of each epoch (``63/63 - 2s - 30ms/step - ...``);
verbose=0 prints nothing.
"""
import sys
import time

_GREEN, _WHITE, _BOLD, _RESET = '\x1b[32m', '\x1b[37m', '\x1b[1m', '\x1b[0m'


class Progbar:
    """Progress of one pass over ``target`` steps (None when unknown).

    ``due(now)`` tells whether ``update`` would print now, so that callers compute the
    running metrics (a device sync) only when they will be shown.
    """

    def __init__(self, target, verbose=1, width=20, interval=None, unit_name='step'):
        self.target = target
        self.verbose = verbose
        self.width = width
        self.unit_name = unit_name
        self.dynamic = _isatty(sys.stdout)
        self.interval = interval if interval is not None else (0.05 if self.dynamic else 10.0)
        self._start = self._last_update = time.perf_counter()
        self._time_after_first_step = None
        self._prev_width = 0

    def due(self, now=None):
        """Whether an intermediate update would be displayed now."""
        if self.verbose != 1:
            return False
        return (time.perf_counter() if now is None else now) - self._last_update >= self.interval

    def update(self, current, values=(), finalize=False):
        """Show step ``current`` with ``values``: (name, float) pairs or a dict, shown as given."""
        if not finalize and self.target is not None and current >= self.target:
            return  # the final line follows, with the validation values
        now = time.perf_counter()
        per_step = self._step_time(current, now)
        if self.verbose == 2 and finalize:
            self._write(self._line2(current, now, per_step, _items(values)) + '\n')
        elif self.verbose == 1 and (finalize or now - self._last_update >= self.interval):
            line, visible = self._line1(current, now, per_step, _items(values), finalize)
            if self.dynamic:
                pad = ' ' * max(0, self._prev_width - visible)
                self._write('\r' + line + pad + ('\n' if finalize else ''))
                self._prev_width = visible
            else:
                self._write(line + '\n')
        self._last_update = now

    # --- formatting ------------------------------------------------------------------------
    def _line1(self, current, now, per_step, values, finalize):
        color = self.dynamic
        if self.target:
            digits = len(str(self.target))
            count = f'{current:>{digits}}/{self.target}'
            done = min(self.width, int(self.width * current / self.target))
            if color:
                bar = f'{_BOLD}{count}{_RESET} {_GREEN}{"━" * done}{_RESET}{_WHITE}{"━" * (self.width - done)}{_RESET}'
            else:
                bar = f'{count} {"━" * done}{"─" * (self.width - done)}'
            plain_bar = len(count) + 1 + self.width
        else:
            bar = f'{current:7d}/Unknown'
            plain_bar = len(bar)
        if self.target and not finalize:
            timing = _format_eta(per_step * (self.target - current))
        else:
            timing = f'{now - self._start:.0f}s'
        info = f' {_BOLD}{timing}{_RESET}' if color else f' {timing}'
        info += ' ' + _format_step_time(per_step, self.unit_name) + _format_values(values)
        visible = plain_bar + len(info) - (len(_BOLD) + len(_RESET) if color else 0)
        return bar + info, visible

    def _line2(self, current, now, per_step, values):
        count = f'{current}/{self.target}' if self.target else f'{current}'
        return (f'{count} - {now - self._start:.0f}s - {_format_step_time(per_step, self.unit_name)}'
                + _format_values(values))

    def _step_time(self, current, now):
        """Seconds per step, leaving out the first (warm-up) step once there are others."""
        if not current:
            return 0.0
        if self._time_after_first_step is not None and current > 1:
            per_step = (now - self._time_after_first_step) / (current - 1)
        else:
            per_step = (now - self._start) / current
        if current == 1:
            self._time_after_first_step = now
        return per_step

    @staticmethod
    def _write(text):
        sys.stdout.write(text)
        sys.stdout.flush()


def _items(values):
    return list(values.items()) if isinstance(values, dict) else list(values)


def _format_values(values):
    return ''.join(f' - {name}: {_format_number(value)}' for name, value in values)


def _format_number(value):
    return f'{value:.4f}' if abs(value) > 1e-3 else f'{value:.4e}'


def _format_eta(eta):
    if eta > 3600:
        return f'{int(eta // 3600)}:{int(eta % 3600 // 60):02d}:{int(eta % 60):02d}'
    if eta > 60:
        return f'{int(eta // 60)}:{int(eta % 60):02d}'
    return f'{int(eta)}s'


def _format_step_time(seconds, unit_name):
    if seconds >= 1 or seconds == 0:
        return f'{seconds:.0f}s/{unit_name}'
    if seconds >= 1e-3:
        return f'{seconds * 1e3:.0f}ms/{unit_name}'
    return f'{seconds * 1e6:.0f}us/{unit_name}'


def _isatty(stream):
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
