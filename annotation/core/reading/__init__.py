"""AI-assisted reading (clinicians with and without a model's output beside the case), as plain
Python: what a methods reviewer checks, apart from the models and pages that use it.

- `scoring`: a reader's answer against the case's accepted answers -> right, wrong or
  undecided (for a human scorer); top-k of ranked lists; a scorer's decision overrides.
- `edits`: what a reader changed from their unassisted to their assisted answer.
- `answers`: a case's expected answer from the import's columns, problems named by column.
- `allocation`: the sequential layout (unassisted, locked, then assisted) and the crossover
  layout (one arm per session, a Williams design, washout between sessions), seeded, with a
  digest.
- `statistics`: accuracy per arm, the MRMC analysis of arms, McNemar on paired reads, helped
  and harmed, time per case, and the arm x reader-experience interaction.
- `scorers`: an LLM judge's agreement with the clinician scorer on undecided answers.
- `judge`: what an LLM judge scoring an answer is shown (case, accepted answers, answer) and
  how its strict JSON reply is read.

docs/assisted-reading.md describes the whole design (a proposal).
"""
