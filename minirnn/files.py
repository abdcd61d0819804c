"""Writing files so that an interrupted run never leaves half of one: every file that a
run, a data loader or the grader writes whole goes through here (a run's metrics log is
appended to, one line at a time)."""
import json
import os


def write_atomic(path, write):
    """Call write(binary file) on a temporary file beside ``path``, then rename it into
    place: an interrupted run never leaves half a file."""
    tmp = f"{path}.tmp{os.getpid()}"
    try:
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def write_json(path, record):
    """``record`` as indented JSON at ``path`` (its folder made if need be), atomically."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    write_atomic(path, lambda f: f.write((json.dumps(record, indent=2) + "\n").encode()))
