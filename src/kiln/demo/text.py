"""`kiln demo text`: an intent classifier with an "I don't know" answer, trained, served and asked.

The data is kiln's own help-desk set (kiln.demo.intents: 12 intents × 40 utterances and 40
out-of-scope messages); a fifth is held out. The demo trains with `--text-column utterance
--reject-below auto` (default 30 s), says what the reject option chose, scores the held-out
messages (answered share, precision of the answers, out-of-scope messages caught), serves the
bundle and asks /predict and /text/answer, then stops the server unless `keep_serving`.
"""

from __future__ import annotations

from pathlib import Path

from kiln.demo.loop import call, start_server, stop_server

DEFAULT_TIME_LIMIT = 30.0
ASK = ("the press is overheating again", "oil all over the floor under conveyor 3", "who won the match last night")


def run(folder: Path, *, time_limit: float | None, keep_serving: bool, rows: int | None = None) -> None:
    """The loop; `rows` is not used (the set is fixed)."""
    from rich.console import Console
    from sklearn.model_selection import train_test_split

    import kiln
    from kiln.demo.intents import OUT_OF_SCOPE, load_intents
    from kiln.evaluation.reject import reject_line

    console = Console()
    folder.mkdir(parents=True, exist_ok=True)
    frame = load_intents()
    train, held_out = train_test_split(frame, test_size=0.2, random_state=0, stratify=frame["intent"])
    train.to_csv(folder / "intents.csv", index=False)
    held_out.to_csv(folder / "held_out.csv", index=False)
    console.print(f"[bold]Data[/] {len(frame)} help-desk messages, {frame['intent'].nunique() - 1} intents and "
                  f"{OUT_OF_SCOPE}: {len(train)} to train ({folder / 'intents.csv'}), {len(held_out)} held out.")
    model = kiln.train(train, target="intent", time_limit=time_limit or DEFAULT_TIME_LIMIT,
                       text_columns=["utterance"], reject_below="auto", quiet=True)
    cv = model.manifest["cv"]
    console.print(f"[bold]Model[/] {cv['model']}: {cv['metric']} {cv['score']:.4f} [{cv['ci_low']:.4f}, "
                  f"{cv['ci_high']:.4f}] (cross-validated)")
    console.print(reject_line(model.reject))
    predicted = model.predict(held_out[["utterance"]])
    truth = held_out["intent"].to_numpy()
    answered = predicted != OUT_OF_SCOPE
    in_scope = truth != OUT_OF_SCOPE
    console.print(f"[bold]Held out[/] answered {answered.mean():.1%} of {len(truth)} messages; precision of the "
                  f"answers {(predicted[answered] == truth[answered]).mean():.3f}; out-of-scope messages "
                  f"refused: {(~answered[~in_scope]).sum()} of {(~in_scope).sum()}.")
    bundle = kiln.save(model, folder / "bot")
    console.print(f"[bold]Bundle[/] {bundle}")
    server = start_server(str(bundle), folder)
    try:
        body = call(f"{server[1]}/predict", {"rows": [{"utterance": text} for text in ASK]})
        for text, answer in zip(ASK, body["answers"], strict=True):
            said = OUT_OF_SCOPE if answer["out_of_scope"] else answer["label"]
            others = ", ".join(f"{a['label']} {a['probability']:.2f}" for a in answer["alternatives"][1:])
            console.print(f"  {text!r} → [bold]{said}[/] ({answer['confidence']:.2f}; then {others})")
        words = call(f"{server[1]}/text/answer", {"text": ASK[1]})["words"]
        top = sorted(words, key=lambda w: -w["weight"])[:3]
        console.print("  words that drove " + repr(ASK[1]) + ": " + ", ".join(f"{w['word']} {w['weight']:+.2f}"
                                                                              for w in top))
    finally:
        if not keep_serving:
            stop_server(server[0])
    if keep_serving:
        console.print(f"\n[bold green]The server keeps running[/]: open {server[1]}/text; stop it with: "
                      f"kill {server[0].pid}")
    else:
        console.print(f"\nThe server was stopped; `kiln demo text --keep-serving` leaves it running ({folder}).")
