"""The stages of bench/run, one module each; every stage is a `run(ctx)` that records its raw
figures under ctx.figures[<key>] (bench/report.py derives the headline values from them).
The other modules are what several stages share."""
