"""Reading a process's CPU time, memory and threads from /proc, and sampling its peak RSS.

Used by the benchmark to put the daemon's cost next to dockerd's and the sshd peer's.
"""
import os
import threading
import time

TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def cpu_seconds(pid, children=False):
    """utime+stime of pid (plus its waited-for children's when children=True), in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        # The command name may hold spaces: split after its closing parenthesis.
        fields = f.read().rsplit(")", 1)[1].split()
    utime, stime, cutime, cstime = (int(x) for x in fields[11:15])
    total = utime + stime + ((cutime + cstime) if children else 0)
    return total / TICKS


def machine_busy_seconds():
    """CPU seconds all cores of the machine spent not idle (from /proc/stat), since boot."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    # guest time is already counted in user/nice
    return (sum(fields[:8]) - idle) / TICKS


def status_field(pid, name):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(name + ":"):
                return int(line.split()[1])
    raise KeyError(name)


def rss_kib(pid):
    return status_field(pid, "VmRSS")


def threads(pid):
    return status_field(pid, "Threads")


def descendants(pid):
    """pid and every process below it (by PPid), read from /proc."""
    parent_of = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                parent_of[int(entry)] = int(f.read().rsplit(")", 1)[1].split()[1])
        except OSError:
            continue
    found, frontier = {pid}, [pid]
    while frontier:
        current = frontier.pop()
        for child, parent in parent_of.items():
            if parent == current and child not in found:
                found.add(child)
                frontier.append(child)
    return found


def tree_rss_kib(pid):
    total = 0
    for p in descendants(pid):
        try:
            total += rss_kib(p)
        except (OSError, KeyError):
            pass
    return total


def tree_cpu_seconds(pid):
    """CPU of a process tree: the root's own and waited-for children's, plus live descendants'."""
    total = cpu_seconds(pid, children=True)
    for p in descendants(pid) - {pid}:
        try:
            total += cpu_seconds(p, children=True)
        except OSError:
            pass
    return total


class PeakSampler:
    """Samples a value (e.g. RSS) every interval seconds on a thread and keeps the peak."""

    def __init__(self, read, interval=0.05):
        self.read, self.interval, self.peak = read, interval, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            try:
                self.peak = max(self.peak, self.read())
            except (OSError, KeyError):
                pass
            time.sleep(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        try:
            self.peak = max(self.peak, self.read())
        except (OSError, KeyError):
            pass


def pid_of(name):
    """The oldest process whose command name is name (e.g. dockerd), or None."""
    best = None
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/comm") as f:
                if f.read().strip() != name:
                    continue
        except OSError:
            continue
        if best is None or int(entry) < best:
            best = int(entry)
    return best
