"""Print a realistic save-drawing body (the seed's fields) for the curl examples in docs/api.md.

    python docs/examples/drawing.py USERNAME STEP [SESSION_ID] [--signin] [--as PERSON]

The drawing is synthetic but real: a PNG data URL, canvas strokes and metrics, as the mobile web
client sends them (enrollment_core.sample_drawings). --as draws PERSON's signature instead of the
user's own (a forgery, for sign-in examples).
"""

from __future__ import annotations

import argparse
import json

from api.wire import save_drawing_json
from enrollment_core.sample_drawings import sample_drawing


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("username")
    parser.add_argument("step", type=int)
    parser.add_argument("session_id", nargs="?")
    parser.add_argument("--signin", action="store_true", help="a sign-in drawing (adds flowType)")
    parser.add_argument("--as", dest="person", help="draw this person's signature instead")
    parser.add_argument("--sample", type=int, default=0, help="which of the person's samples (default 0)")
    args = parser.parse_args()
    flow = "signin" if args.signin else "signup"
    command = sample_drawing(
        args.username,
        args.step,
        flow_type=flow,
        session_id=args.session_id,
        sample=args.sample,
        person=args.person,
    )
    body = save_drawing_json(command)
    if not args.signin:
        body.pop("flowType")  # signup is the default: send exactly the seed's fields
    print(json.dumps(body))


if __name__ == "__main__":
    main()
