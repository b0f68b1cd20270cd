"""Write the synthetic example data of the four new task kinds (see README.md beside this file).

    python resources/examples/tasks/make_examples.py

Deterministic: the same files come out on every run (one seeded random generator per file). Every sentence is
built from the templates and word lists below; nothing is taken from a corpus.
"""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

HERE = Path(__file__).resolve().parent

FIRST = ["Anna", "Marek", "Lucia", "Tomas", "Ingrid", "Kofi", "Priya", "Javier", "Mei", "Olga", "Samir", "Hannah",
         "Diego", "Yuki", "Nadia", "Peter", "Amara", "Lars", "Elena", "Rafael"]
LAST = ["Novak", "Okafor", "Lindqvist", "Moreau", "Tanaka", "Kowalski", "Haddad", "Fischer", "Silva", "Petrov",
        "Mensah", "Rossi", "Jensen", "Varga", "Costa"]
CITIES = ["Lisbon", "Oslo", "Nairobi", "Krakow", "Osaka", "Lima", "Tunis", "Ghent", "New York", "Buenos Aires",
          "Cape Town", "Porto", "Hanoi", "Leeds", "San Diego", "Tallinn"]
ORGS = ["Acme Corporation", "Northwind Traders", "Globex", "Initech", "Blue Harbor Bank", "Vandelay Industries",
        "Stark Logistics", "Umbrella Foods", "Red Kite Airlines", "Oakridge University", "Helios Energy", "Pinewood Press"]
# Words that are a person's name in one sentence and a place in another: only the context tells them apart.
AMBIGUOUS = ["Jordan", "Florence", "Victoria", "Austin", "Sydney", "Chelsea"]
NER_TEMPLATES = [
    "{PER} moved to {LOC} last year .",
    "{PER} joined {ORG} in {YEAR} .",
    "{ORG} opened a new office in {LOC} on Monday .",
    "The mayor of {LOC} met {PER} to discuss the budget .",
    "{PER} and {PER} founded {ORG} in {LOC} .",
    "Shares of {ORG} rose after {PER} was named chief executive .",
    "Flights from {LOC} to {LOC} were cancelled because of the storm .",
    "{PER} said {ORG} would hire two hundred people in {LOC} .",
    "A spokesman for {ORG} declined to comment .",
    "{PER} , who grew up in {LOC} , now teaches at {ORG} .",
    "The weather was cold and the roads were quiet .",
    "Prices fell for the third month in a row .",
    "{ORG} signed a contract with {ORG} worth ten million dollars .",
    "Police in {LOC} are looking for witnesses .",
    "{PER} won the race in {LOC} on Sunday .",
]


def _person(rng: random.Random) -> str:
    first = rng.choice(AMBIGUOUS) if rng.random() < 0.2 else rng.choice(FIRST)
    return f"{first} {rng.choice(LAST)}" if rng.random() < 0.6 else first


def _place(rng: random.Random) -> str:
    return rng.choice(AMBIGUOUS) if rng.random() < 0.2 else rng.choice(CITIES)


def _ner_sentence(rng: random.Random) -> list[tuple[str, str]]:
    out = []
    for piece in rng.choice(NER_TEMPLATES).split():
        kind = piece.strip("{}") if piece.startswith("{") else None
        if kind in ("PER", "LOC", "ORG"):
            name = {"PER": lambda: _person(rng), "LOC": lambda: _place(rng), "ORG": lambda: rng.choice(ORGS)}[kind]()
            out += [(word, ("B-" if i == 0 else "I-") + kind) for i, word in enumerate(name.split())]
        elif kind == "YEAR":
            out.append((str(rng.randint(1990, 2024)), "O"))
        else:
            out.append((piece, "O"))
    return out


def make_ner(path: Path, sentences: int = 320, per_document: int = 10) -> None:
    rng = random.Random(1)
    lines = []
    for i in range(sentences):
        if i % per_document == 0:
            lines += ["-DOCSTART- O", ""]
        lines += [f"{word} {tag}" for word, tag in _ner_sentence(rng)] + [""]
    path.write_text("\n".join(lines), encoding="utf-8")


JOBS = ["nurse", "pilot", "baker", "teacher", "engineer", "lawyer", "chemist", "carpenter", "journalist", "architect"]
COLOURS = ["green", "orange", "purple", "yellow", "blue", "red", "silver", "brown"]
INSTRUMENTS = ["violin", "drums", "piano", "cello", "guitar", "flute", "trumpet"]
FACTS = {  # fact -> (sentence, question, answer key)
    "city": ("{name} was born in {city} in {year}.", "Where was {name} born?", "city"),
    "year": ("{name} was born in {city} in {year}.", "In which year was {name} born?", "year"),
    "job": ("{name} works as a {job} at {org}.", "What is {name}'s job?", "job"),
    "org": ("{name} works as a {job} at {org}.", "Where does {name} work?", "org"),
    "colour": ("The favourite colour of {name} is {colour}.", "What is {name}'s favourite colour?", "colour"),
    "instrument": ("On weekends {name} plays the {instrument} with friends.", "Which instrument does {name} play?",
                   "instrument"),
}


def make_qa(path: Path, paragraphs: int = 60, questions_per: int = 5) -> None:
    rng = random.Random(2)
    articles = []
    qid = 0
    for p in range(paragraphs):
        people = rng.sample(FIRST, rng.randint(2, 5))
        profiles = {n: {"name": n, "city": rng.choice(CITIES), "year": str(rng.randint(1950, 2005)),
                        "job": rng.choice(JOBS), "org": rng.choice(ORGS), "colour": rng.choice(COLOURS),
                        "instrument": rng.choice(INSTRUMENTS)} for n in people}
        stated: dict[str, set[str]] = {n: set() for n in people}
        sentences, spans = [], {}
        for n in people:
            for group in (("city", "year"), ("job", "org"), ("colour",), ("instrument",)):
                if rng.random() < 0.7:
                    stated[n].update(group)
                    sentences.append((n, group))
        rng.shuffle(sentences)
        context = ""
        for n, group in sentences:
            template = FACTS[group[0]][0]
            start = len(context) + (1 if context else 0)
            text = template.format(**profiles[n])
            for key in group:  # where each answer lies in the context
                spans[(n, key)] = (profiles[n][key], start + text.index(profiles[n][key], text.index(n) + len(n)))
            context = f"{context} {text}" if context else text
        qas = []
        for _ in range(questions_per):
            n = rng.choice(people)
            key = rng.choice(list(FACTS))
            question = FACTS[key][1].format(name=n)
            qid += 1
            if key in stated[n]:
                answer, start = spans[(n, key)]
                assert context[start:start + len(answer)] == answer
                qas.append({"id": f"q{qid:04d}", "question": question, "is_impossible": False,
                            "answers": [{"text": answer, "answer_start": start}]})
            else:  # the paragraph never says it: SQuAD v2's unanswerable question
                qas.append({"id": f"q{qid:04d}", "question": question, "is_impossible": True, "answers": []})
        articles.append({"title": f"People {p + 1}", "paragraphs": [{"context": context, "qas": qas}]})
    path.write_text(json.dumps({"version": "v2.0", "data": articles}, indent=1), encoding="utf-8")


ASPECTS = ["food", "service", "room", "staff", "view", "coffee", "music", "price", "location", "breakfast"]
ADJECTIVES = {"awful": 1.0, "terrible": 1.2, "poor": 1.8, "bland": 2.2, "mediocre": 2.5, "okay": 3.0, "fine": 3.2,
              "decent": 3.4, "good": 3.8, "lovely": 4.2, "great": 4.4, "excellent": 4.7, "superb": 4.9}
REGRESSION_TEMPLATES = ["The {a1} was {j1} and the {a2} was {j2}.", "{A1} {j1}, {a2} {j2}.",
                        "We found the {a1} {j1}, though the {a2} was {j2}.", "The {a1} was {j1}."]


def make_regression(path: Path, rows: int = 300) -> None:
    rng = random.Random(3)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["text", "score"])
        for _ in range(rows):
            a1, a2 = rng.sample(ASPECTS, 2)
            j1, j2 = rng.choice(list(ADJECTIVES)), rng.choice(list(ADJECTIVES))
            template = rng.choice(REGRESSION_TEMPLATES)
            used = [j1] + ([j2] if "{j2}" in template else [])
            score = sum(ADJECTIVES[j] for j in used) / len(used)
            text = template.format(a1=a1, A1=a1.capitalize(), a2=a2, j1=j1, j2=j2)
            writer.writerow([text, f"{score:.2f}"])


TOPICS = {
    "sports": ["the match went to extra time", "she trains at the stadium every morning", "our team won the league",
               "he scored twice in the final", "the coach changed the tactics"],
    "music": ["the band played until midnight", "I bought tickets for the concert", "her new album is out",
              "the orchestra rehearsed the symphony", "he practises the guitar daily"],
    "food": ["the soup needed more salt", "we baked bread on Sunday", "the restaurant serves fresh pasta",
             "dessert was a lemon tart", "they grill fish by the harbour"],
    "travel": ["our flight was delayed", "we took the night train to the coast", "the hotel overlooked the bay",
               "I renewed my passport", "they hiked across the mountains for a week"],
    "technology": ["the laptop battery died", "the app crashed after the update", "he wrote a new compiler",
                   "the router needs a firmware upgrade", "she repaired the broken phone screen"],
}
NEUTRAL = ["it rained all day", "my neighbour called", "the meeting ran late", "we cleaned the garage"]


def make_multilabel(path: Path, rows: int = 300) -> None:
    rng = random.Random(4)
    names = list(TOPICS)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["text", *names])
        for _ in range(rows):
            chosen = rng.sample(names, rng.choice([0, 1, 1, 2, 2, 3]))
            clauses = [rng.choice(TOPICS[t]) for t in chosen] + ([rng.choice(NEUTRAL)] if rng.random() < 0.4 or not chosen else [])
            rng.shuffle(clauses)
            text = ", and ".join(clauses)
            writer.writerow([text[0].upper() + text[1:] + ".", *(int(t in chosen) for t in names)])


def main() -> None:
    make_ner(HERE / "ner.conll")
    make_qa(HERE / "qa_squad_v2.json")
    make_regression(HERE / "regression.csv")
    make_multilabel(HERE / "multilabel.csv")


if __name__ == "__main__":
    main()
