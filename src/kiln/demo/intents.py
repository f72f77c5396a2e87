"""A small intent data set written for kiln: a maintenance help desk.

Twelve intents, 40 utterances each, built from hand-written phrasings and the machines of
a plant (deterministic: the same table every time), plus 40 out-of-scope messages labelled
`out_of_scope`. No download: it is part of the package, for `kiln demo text` and the tests.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

PER_INTENT = 40
OUT_OF_SCOPE = "out_of_scope"

MACHINES = ("press 4", "the lathe", "CNC mill 2", "the compressor", "packaging line B", "the robot arm",
            "boiler 1", "the injection molder", "conveyor 3", "the paint booth")

PHRASINGS: dict[str, tuple[str, ...]] = {
    "overheating": (
        "{m} is overheating again", "{m} is running way too hot", "temperature alarm on {m}",
        "{m} shut down because it got too hot", "there is smoke and heat coming off {m}",
        "{m} keeps tripping the thermal cutout", "the motor on {m} is burning hot to the touch",
        "coolant seems to have stopped, {m} is hot", "high temp warning flashing on {m}",
        "{m} overheats after ten minutes of running"),
    "jam": (
        "{m} is jammed", "parts are stuck in {m}", "{m} keeps jamming on every cycle",
        "something is blocking {m}, it won't move", "a pallet got wedged in {m}",
        "material jam at the infeed of {m}", "{m} stalled with product stuck inside",
        "clear the jam on {m} please", "{m} is blocked and the line stopped", "belt on {m} is stuck"),
    "leak": (
        "{m} is leaking oil", "hydraulic fluid all over the floor under {m}", "there's a leak on {m}",
        "{m} is dripping coolant", "air leak hissing from {m}", "puddle of oil next to {m}",
        "the hose on {m} burst and is spraying", "{m} lost pressure, probably a leak",
        "seal on {m} is leaking", "water leaking out of {m}"),
    "order_part": (
        "I need a replacement belt for {m}", "order a new filter for {m}", "we're out of spare fuses for {m}",
        "can you order bearings for {m}", "need a new drive motor for {m}", "request spare parts for {m}",
        "how do I get a replacement sensor for {m}", "please buy a new gasket kit for {m}",
        "we need more nozzles for {m}", "order a spare pump for {m}"),
    "schedule_service": (
        "schedule preventive maintenance for {m}", "book a service slot for {m} next week",
        "when is the next planned service of {m}", "can a technician inspect {m} on friday",
        "plan the yearly overhaul of {m}", "set up routine maintenance on {m}",
        "I want to book downtime to service {m}", "put {m} on the maintenance calendar",
        "arrange an inspection of {m}", "reschedule the service of {m} to monday"),
    "safety_hazard": (
        "the guard on {m} is missing", "someone almost got hurt at {m}", "emergency stop on {m} does not work",
        "exposed wires near {m}, this is dangerous", "safety light curtain on {m} is bypassed",
        "report a near miss at {m}", "{m} started moving while the door was open",
        "there is a trip hazard next to {m}", "fire extinguisher by {m} is empty",
        "unsafe condition at {m}, please lock it out"),
    "power_fault": (
        "{m} has no power", "the breaker for {m} keeps tripping", "{m} won't turn on",
        "electrical fault on {m}", "power outage at {m}", "{m} lost power in the middle of a run",
        "sparks from the control cabinet of {m}", "the main switch of {m} is dead",
        "fuse blew on {m}", "voltage drop on {m} keeps resetting it"),
    "calibration": (
        "calibrate the scale on {m}", "{m} is out of tolerance", "parts from {m} are off spec",
        "the sensor readings on {m} drift", "recalibrate the torque settings of {m}",
        "measurements from {m} are inaccurate", "zero the gauges on {m}", "{m} needs calibration",
        "dimensions coming out of {m} are wrong", "alignment of {m} is off"),
    "controller_error": (
        "PLC error on {m}", "the touchscreen on {m} froze", "{m} shows error code E42",
        "the HMI of {m} keeps rebooting", "software crash on {m}", "{m} controller lost its program",
        "fault message on the panel of {m}", "{m} won't accept the new recipe",
        "the display on {m} is blank", "communication error between {m} and the server"),
    "vibration_noise": (
        "{m} is making a grinding noise", "strange rattling sound from {m}", "{m} vibrates a lot",
        "loud squealing coming from {m}", "{m} is shaking badly", "knocking noise in {m}",
        "bearing noise on {m}", "{m} hums louder than usual", "clunking sound when {m} starts",
        "excessive vibration alarm on {m}"),
    "work_order_status": (
        "what is the status of my ticket for {m}", "any update on the repair of {m}",
        "when will {m} be fixed", "is someone working on {m} yet", "check my work order for {m}",
        "has the technician finished with {m}", "how long until {m} is back up",
        "who is assigned to the job on {m}", "is the repair request for {m} closed",
        "follow up on the open order for {m}"),
    "manual_request": (
        "where is the manual for {m}", "send me the wiring diagram of {m}", "I need the datasheet for {m}",
        "how do I change the settings on {m}", "is there a user guide for {m}",
        "procedure to restart {m} after a stop", "where can I find the parts list of {m}",
        "show me the lockout procedure for {m}", "documentation for {m} please",
        "instructions for cleaning {m}"),
}

OUT_OF_SCOPE_MESSAGES = (
    "what's for lunch in the canteen today", "will it rain tomorrow", "tell me a joke",
    "who won the football match last night", "can I change my holiday dates", "what time is it in Tokyo",
    "recommend a good movie", "how do I reset my email password", "is the parking lot full",
    "what is the capital of Australia", "book a meeting room for 3 pm", "my payslip looks wrong",
    "where can I buy concert tickets", "how many calories are in a banana", "translate hello into french",
    "play some music", "when is the company party", "what's the wifi password for guests",
    "who is the ceo", "order pizza for the team", "how old is the universe", "I like turtles",
    "sing me a song", "what's the exchange rate for the euro", "can you do my homework",
    "which bus goes to the airport", "how do I apply for a new job here", "write a poem about the sea",
    "what's the best phone to buy", "is the gym open on sunday", "remind me to call my mom",
    "how tall is mount everest", "good morning", "thanks, bye", "what's your favourite colour",
    "the coffee machine in the lobby tastes bad", "book a taxi for tonight", "how do I knit a scarf",
    "are we getting a bonus this year", "explain quantum computing",
)


def load_intents(per_intent: int = PER_INTENT, seed: int = 16) -> pd.DataFrame:
    """The help-desk table: columns `utterance` and `intent` (`out_of_scope` for the rest)."""
    rng = np.random.default_rng(seed)
    rows = []
    for intent, phrasings in PHRASINGS.items():
        combos = [(p, m) for p in phrasings for m in MACHINES]
        for index in rng.permutation(len(combos))[:per_intent]:
            phrasing, machine = combos[index]
            text = phrasing.format(m=machine)
            rows.append((text[0].upper() + text[1:] if rng.random() < 0.5 else text, intent))
    rows += [(message, OUT_OF_SCOPE) for message in OUT_OF_SCOPE_MESSAGES]
    frame = pd.DataFrame(rows, columns=["utterance", "intent"])
    return frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)
