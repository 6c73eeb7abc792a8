"""Benchmarks of the enrollment database approach: `./dev bench [save|queries|cleanup] [--quick]`.

They print figures (medians over interleaved rounds, and ratios, because the machine is shared and
noisy) and write them as JSON under var/bench/; they are not timed unit tests. See docs/performance.md.
"""
