"""The compiled part of spamgw: one optional C extension (the content models' scorer).

Everything else is in pyproject.toml. Without a C compiler the extension is skipped
and the pure-Python scorer is used: the same scores, slower
(gateway/content/classifier.py, docs/performance.md).
"""

from setuptools import Extension, setup

setup(ext_modules=[
    Extension("gateway.content._native", ["gateway/content/_native.c"],
              extra_compile_args=["-O2", "-std=c11"], optional=True),
])
