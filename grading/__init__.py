"""The course's graded tests (``minirnn grade``; docs/instructors.rst, "Grading")."""
