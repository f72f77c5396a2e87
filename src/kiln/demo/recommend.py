"""`kiln demo recommend`: the recommendation loop on a generated catalogue whose ground truth is known.

Every user likes one genre (items fall into genres, and each user interacts mostly with one); the
newest interaction of each user is held out. The demo profiles the interactions, trains (default
40 s), shows the leaderboard, evaluates on the held-out interactions (NDCG@10 against most-popular,
and how many recommendations fall in the user's true genre, which only a generated catalogue can
tell), writes batch recommendations, serves the model, asks /recommend (a known and an unknown
user) and /similar, sends clicks to /feedback, and reads the live hit rate back.
No download: the data is generated (seeded), so the demo runs offline in well under 3 minutes.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pandas as pd

from kiln.demo.loop import call, kiln_command, start_server, step_printer, stop_server

GENRES = 8
DEFAULT_TIME_LIMIT = 40.0


def catalogue(n_users: int = 800, n_items: int = 400, *, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(interactions, items): user, item, rating, ts; and item, genre, price. Ground truth: user i likes
    genre i % GENRES; 85% of their interactions are in it, popular items more often."""
    rng = np.random.default_rng(seed)
    genre = np.arange(n_items) % GENRES
    appeal = rng.zipf(1.6, n_items).clip(1, 50).astype(float)
    rows = []
    for user in range(n_users):
        liked = user % GENRES
        n = int(rng.integers(8, 30))
        own = np.flatnonzero(genre == liked)
        other = np.flatnonzero(genre != liked)
        n_own = round(0.85 * n)
        picks = list(rng.choice(own, min(n_own, len(own)), replace=False, p=appeal[own] / appeal[own].sum()))
        picks += list(rng.choice(other, n - len(picks), replace=False, p=appeal[other] / appeal[other].sum()))
        start = 1_700_000_000 + int(rng.integers(0, 86_400 * 30))
        for step, item in enumerate(rng.permutation(picks)):
            rows.append({"user": f"user{user}", "item": f"item{item}", "rating": int(rng.integers(2, 6)),
                         "ts": start + 3_600 * step})
    items = pd.DataFrame({"item": [f"item{i}" for i in range(n_items)], "genre": [f"g{g}" for g in genre],
                          "price": np.round(rng.gamma(2.0, 10.0, n_items), 2)})
    return pd.DataFrame(rows), items


def run(folder: Path, *, time_limit: float | None, keep_serving: bool, rows: int | None = None) -> None:
    """The loop in `folder`; the server stops at the end unless `keep_serving`."""
    from rich.console import Console

    console = Console()
    began = time.time()
    folder.mkdir(parents=True, exist_ok=True)
    step = step_printer(console)

    step("1. Generate a catalogue with known tastes")
    table, items = catalogue(n_users=rows or 800)
    table = table.sort_values(["user", "ts"], kind="stable")
    newest = ~table["user"].duplicated(keep="last")
    train, test = table[~newest], table[newest]
    train.to_csv(folder / "ratings.csv", index=False)
    test.to_csv(folder / "newest.csv", index=False)
    items.to_csv(folder / "items.csv", index=False)
    test[["user"]].assign(user=lambda f: f["user"]).head(50).to_csv(folder / "users.csv", index=False)
    console.print(f"{len(train):,} interactions of {train['user'].nunique():,} users with "
                  f"{train['item'].nunique():,} items (each user's newest kept apart: {len(test):,}); items.csv "
                  "has genre and price")
    common = ("--user-column", "user", "--item-column", "item", "--time-column", "ts")
    step("2. Check the data")
    console.print(kiln_command("profile", str(folder / "ratings.csv"), "--task", "recommend", *common,
                               "--out", str(folder / "profile.html")).strip())
    step(f"3. Train (--time-limit {time_limit or DEFAULT_TIME_LIMIT:g}s)")
    console.print(kiln_command("train", str(folder / "ratings.csv"), "--task", "recommend", *common, "--rating-column",
                               "rating", "--item-features", str(folder / "items.csv"), "--time-limit",
                               f"{time_limit or DEFAULT_TIME_LIMIT:g}", "--out", str(folder / "model"),
                               "--quiet").strip())
    console.print(kiln_command("leaderboard", str(folder / "model")).rstrip())
    step("4. Evaluate on each user's newest interaction (full catalogue, seen items excluded)")
    console.print(kiln_command("evaluate", str(folder / "model"), str(folder / "newest.csv"),
                               "--out", str(folder / "evaluation.html")).strip())
    step("5. Batch recommendations, and the ground truth only a generated catalogue has")
    pd.DataFrame({"user": [*test["user"].head(49), "someone-new"]}).to_csv(folder / "users.csv", index=False)
    console.print(kiln_command("predict", str(folder / "model"), str(folder / "users.csv"), "--top-k", "10",
                               "--out", str(folder / "recs.csv")).strip())
    recs = pd.read_csv(folder / "recs.csv")
    known = recs[~recs["cold_start"]]
    liked = known["user"].str.removeprefix("user").astype(int) % GENRES
    genre_of = items.set_index("item")["genre"].str.removeprefix("g").astype(int)
    share = float((genre_of.reindex(known["item"]).to_numpy() == liked.to_numpy()).mean())
    console.print(f"{share:.0%} of the known users' recommendations are in the genre they like "
                  f"(chance: {1 / GENRES:.0%}; what they do: 85%)")
    step("6. Serve, recommend, click, monitor")
    env = {**os.environ, "KILN_DB": os.environ.get("KILN_DB") or f"sqlite:///{folder / 'kiln.db'}"}
    server, url = start_server(str(folder / "model"), folder, env=env)
    try:
        user = str(test["user"].iloc[0])
        answer = call(f"{url}/recommend", {"user": user, "k": 5})
        console.print(f"POST /recommend {user}: {', '.join(i['item'] for i in answer['items'])}")
        stranger = call(f"{url}/recommend", {"user": "someone-new", "k": 5})
        console.print(f"POST /recommend someone-new (cold start: {stranger['cold_start']}): "
                      f"{', '.join(i['item'] for i in stranger['items'])}")
        first = answer["items"][0]["item"]
        similar = call(f"{url}/similar?item={first}&k=5")
        console.print(f"GET /similar {first}: {', '.join(i['item'] for i in similar['similar'])}")
        hits = 0
        for _, row in test.head(200).iterrows():  # each user is served, then clicks their true newest item
            listed = call(f"{url}/recommend", {"user": str(row['user']), "k": 10})
            hits += row["item"] in {i["item"] for i in listed["items"]}
            call(f"{url}/feedback", {"user": str(row["user"]), "item": str(row["item"])})
        console.print(f"200 users served and their clicks sent: {hits} clicks were on a recommended item")
        console.print(f"page: {url}/recommender")
        if keep_serving:
            console.print(f"serving at {url} (Ctrl-C to stop)")
            server.wait()
    finally:
        if not keep_serving:
            stop_server(server)
    import kiln
    from kiln.monitor.alerts import AlertRules
    from kiln.monitor.recommend import MONITORING

    model = kiln.load(folder / "model")
    name = (folder / "model").resolve().name
    traffic = MONITORING.traffic(name, model, url=env["KILN_DB"])
    result = MONITORING.assess(model, traffic, name=name, version="demo", since=None, rules=AlertRules(min_rows=1))
    overall = result.overall
    if overall.get("clicks"):
        console.print(f"monitor: live hit rate {overall['hit_rate']['value']:.2f} "
                      f"[{overall['hit_rate']['low']:.2f}, {overall['hit_rate']['high']:.2f}], live NDCG "
                      f"{overall['ndcg']['value']:.3f}, cold-start share {overall['cold_start_share']:.2f}, "
                      f"coverage {overall['coverage']:.2f}, alerts: {[a.rule for a in result.alerts] or 'none'}")
    console.print(f"\n[bold green]done in {time.time() - began:.0f}s[/bold green]; files in {folder}")
