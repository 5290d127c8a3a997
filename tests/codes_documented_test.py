#!/usr/bin/python3
"""Every message code the source uses is listed in docs/codes.md.

A code is a string literal of capital letters and digits in at least two parts joined by "_"
(SSH_CONNECTED, DOCKER_API_ERROR) in the server's sources. Not codes: literals starting with
CSSH_ (this project's environment variables and markers), literals passed to getenv/setenv, and
the few listed in NOT_CODES. Prints each undocumented code with the file that uses it.

Usage: codes_documented_test.py [REPO_ROOT]
"""

import os
import re
import sys

SOURCE_DIRS = ("app", "actors", "auth", "common", "config", "docker", "protocol")
# Literals that look like codes but are not (environment variable names, markers).
NOT_CODES = {
    "SSH_AUTH_SOCK",  # the agent socket variable forwarding sets for programs
    # the forwarding helper's frame names (protocol/forward/frame.cpp, docs/forwarding.md)
    "DIAL_TCP", "DIAL_UNIX", "LISTEN_TCP", "LISTEN_UNIX", "WRITE_FILE", "REMOVE_FILE",
}
LITERAL = re.compile(r'"([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)"')
ENV_LITERAL = re.compile(r'(?:getenv|setenv|unsetenv)\s*\(\s*"([A-Z0-9_]+)"')


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with open(os.path.join(root, "docs", "codes.md")) as f:
        documented = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", f.read()))
    used = {}
    for d in SOURCE_DIRS:
        for dirpath, _, files in os.walk(os.path.join(root, d)):
            for name in files:
                if not name.endswith((".cpp", ".hpp")):
                    continue
                path = os.path.join(dirpath, name)
                with open(path, errors="replace") as f:
                    text = f.read()
                env_names = set(ENV_LITERAL.findall(text))
                for code in LITERAL.findall(text):
                    if code.startswith("CSSH_") or code in env_names:
                        continue
                    used.setdefault(code, set()).add(os.path.relpath(path, root))
    missing = sorted(c for c in used if c not in documented and c not in NOT_CODES)
    for code in missing:
        print(f"FAIL: {code} (used in {', '.join(sorted(used[code]))}) is not listed in docs/codes.md")
    if len(used) < 50:
        print(f"FAIL: only {len(used)} codes found; is {root} the repository?")
        return 1
    print(f"{len(used) - len(missing)} of {len(used)} codes documented")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
