"""The step plan of each flow: the one place that says what a person draws, in which order.

The migration runner mirrors it into the enrollment_step_plan table so that the SQL functions
(get_enrollment_progress, complete_enrollment) count against the same plan.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

FlowType = Literal["signup", "signin"]
StepType = Literal["signature", "shape", "drawing"]

FLOW_TYPES: tuple[FlowType, ...] = get_args(FlowType)
STEP_TYPES: tuple[StepType, ...] = get_args(StepType)


@dataclass(frozen=True)
class Step:
    number: int
    type: StepType
    instruction: str


# Signatures are spread through signup (5 of 11) so that the enrolled samples capture how a person's
# signature varies over a few minutes, which is what sign-in verification compares against.
PLAN: dict[FlowType, tuple[Step, ...]] = {
    "signup": (
        Step(1, "signature", "Sign your name"),
        Step(2, "signature", "Sign your name again, as you usually do"),
        Step(3, "shape", "Draw a circle"),
        Step(4, "shape", "Draw a square"),
        Step(5, "signature", "Sign your name a third time"),
        Step(6, "shape", "Draw a triangle"),
        Step(7, "drawing", "Draw a house"),
        Step(8, "signature", "Sign your name once more"),
        Step(9, "drawing", "Draw a tree"),
        Step(10, "drawing", "Draw a smiling face"),
        Step(11, "signature", "Sign your name one last time"),
    ),
    "signin": (Step(1, "signature", "Sign your name"),),
}


def steps_of(flow_type: FlowType) -> tuple[Step, ...]:
    return PLAN[flow_type]


def step_of(flow_type: FlowType, number: int) -> Step | None:
    """The plan's step with this number, or None when the flow has no such step."""
    steps = PLAN[flow_type]
    return steps[number - 1] if 1 <= number <= len(steps) else None


def total_steps(flow_type: FlowType) -> int:
    return len(PLAN[flow_type])
