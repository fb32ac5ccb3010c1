"""`python -m service` exactly as deployed, but uvicorn gets the asyncio loop and h11 (variant V1).

service.cli calls `uvicorn.run(..., loop="uvloop", http="httptools")`; this wrapper swaps only
those two arguments, so logging, middleware and settings stay as shipped.
"""

import sys
from typing import Any

import uvicorn

from service.__main__ import main

deployed_run = uvicorn.run


def run_pure_python(*args: Any, **kwargs: Any) -> None:
    """uvicorn.run with uvicorn's pure-Python event loop and HTTP parser."""
    deployed_run(*args, **{**kwargs, "loop": "asyncio", "http": "h11"})


if __name__ == "__main__":
    uvicorn.run = run_pure_python
    sys.exit(main())
