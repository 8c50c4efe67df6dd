"""Building blocks of motion capture from video: reading, pose tracking, cleaning, retargeting, clips and files.

Each module does one thing and none imports a UI; `pipelines/motion_capture.py` composes them.
"""
