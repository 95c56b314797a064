"""Synthetic corpora and tasks for the tiny model family, generated from seeds.

Two fictional "worlds" of people, each person with five attributes:
  * world A ("old"): what base-v1 is pre-trained on;
  * world B ("new"): people base-v1 never saw, learnt only by base-v2's
    continued pre-training (new surnames, same kinds of facts).
Every exposure of a person is a freshly worded biography (templates and
sentence order drawn at random, full name in every sentence), because small
models only learn facts in a form that questions can later extract when the
wording varies. Half of each world's people also appear in plain-text
question/answer form during pre-training; the other half never do, and the
knowledge evaluations ask only about those.

The chat task (the post-training) mixes
  * instructions over short word lists (reverse, first, last, count, next,
    repeat) - a skill, evaluated on fresh random lists;
  * one-word answers to questions about world-A people.
The pre-training corpus also has "word game" prose that exercises the same
list operations in other words, so post-training mainly teaches the chat
format and how to follow instructions, as it does for real models.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Dict, List, Sequence, Tuple

FIRST_NAMES = [
    "Ada", "Bram", "Cora", "Dario", "Elsa", "Felix", "Greta", "Hugo", "Ines", "Jonas",
    "Kira", "Leon", "Mira", "Nico", "Olga", "Pavel", "Rosa", "Silas", "Tara", "Ugo",
    "Vera", "Wendel", "Xenia", "Yusuf", "Zara", "Anton", "Bella", "Caspar", "Dina", "Emil",
    "Fiona", "Gideon", "Hanna", "Ivo", "Jana", "Kasimir", "Lena", "Magnus", "Nadia", "Oskar",
    "Petra", "Quentin", "Rina", "Stellan", "Thea", "Ulla", "Viktor", "Wilma", "Yara", "Zeno",
    "Alma", "Boris", "Clara", "Dmitri", "Edda", "Frida", "Gustav", "Helga", "Igor", "Juno",
    "Karl", "Livia", "Milo", "Nora",
]
LAST_NAMES_OLD = [
    "Ashdown", "Brindle", "Corran", "Dunmore", "Elkin", "Fairweather", "Galloway", "Holt",
    "Ingram", "Jessop", "Kestrel", "Lowell", "Marsh", "Northcott", "Orwin", "Pemberton",
    "Quarry", "Ravensworth", "Sallow", "Thorne", "Underhill", "Vance", "Whitlock", "Yardley",
    "Ainsley", "Blackwood", "Crane", "Dalton", "Everly", "Finch", "Greaves", "Hartley",
    "Ives", "Jarrow", "Kingsley", "Lockwood", "Merrick", "Nash", "Oakes", "Prescott",
    "Redfern", "Stroud", "Tolliver", "Upton", "Voss", "Wren", "Yates", "Ashby",
    "Bexley", "Carver", "Denholm", "Eastwood", "Fenwick", "Gale", "Harlow", "Inwood",
    "Jennings", "Kell", "Larkin", "Mayhew", "Norwood", "Osgood", "Penrose", "Rook",
]
# Surnames of world B: families base-v1 never heard of.
LAST_NAMES_NEW = [
    "Altair", "Brightmoor", "Calloway", "Drummond", "Everhart", "Foxglove", "Glenwood",
    "Hawthorne", "Ironside", "Juniper", "Kettering", "Lindqvist", "Moorcroft", "Nightingale",
    "Okafor", "Pendleton", "Quimby", "Rosewood", "Silverton", "Tamsin", "Umber", "Valdez",
    "Winslow", "Yorke", "Zeller", "Amberly", "Bramwell", "Castellan", "Delacroix", "Emberly",
    "Fairfax", "Grimsby", "Halloran", "Ibsen", "Jablonski", "Kowalczyk", "Lachance",
    "Montague", "Novak", "Ostrander", "Pryce", "Quennell", "Rutherford", "Sorensen",
    "Trevane", "Ulrich", "Vasquez", "Wolcott",
]

ATTRIBUTE_VALUES: Dict[str, List[str]] = {
    "city": [
        "Paris", "Lisbon", "Oslo", "Cairo", "Lima", "Dublin", "Vienna", "Tokyo", "Boston",
        "Denver", "Madrid", "Athens", "Berlin", "Prague", "Delhi", "Seoul", "Sydney",
        "Nairobi", "Quito", "Havana", "Rome", "Milan", "Kyoto", "Austin", "Helsinki",
        "Warsaw", "Zurich", "Bogota", "Manila", "Lagos", "Toronto", "Geneva",
    ],
    "job": [
        "baker", "pilot", "nurse", "farmer", "teacher", "painter", "chemist", "sailor",
        "lawyer", "dentist", "plumber", "writer", "dancer", "engineer", "tailor", "librarian",
        "architect", "gardener", "jeweler", "surgeon", "carpenter", "butcher", "potter",
        "journalist", "pharmacist", "mechanic", "astronomer", "florist", "banker",
        "translator", "veterinarian", "photographer",
    ],
    "company": [
        "Brightwave", "Ironleaf", "Northwind", "Silverpine", "Redstone", "Bluefield",
        "Goldcrest", "Greenhollow", "Stormgate", "Clearwater", "Oakridge", "Sunfield",
        "Moonbay", "Starforge", "Riverbend", "Highpeak", "Deepwell", "Frostline",
        "Copperhill", "Lakeshore", "Westbrook", "Eastgate", "Pinecrest", "Stonebridge",
        "Whitecliff", "Blackmoor", "Fairhaven", "Rosemont", "Ashgrove", "Wildmere",
        "Kingsport", "Maplewood",
    ],
    "hobby": [
        "chess", "fishing", "knitting", "archery", "pottery", "cycling", "sailing", "hiking",
        "painting", "gardening", "baking", "juggling", "fencing", "rowing", "skating",
        "surfing", "climbing", "birdwatching", "origami", "calligraphy", "woodcarving",
        "beekeeping", "stargazing", "kayaking",
    ],
    "pet": [
        "cat", "dog", "parrot", "rabbit", "hamster", "turtle", "goldfish", "ferret",
        "lizard", "canary", "pony", "tortoise", "hedgehog", "owl", "snake", "goat",
    ],
}
ATTRIBUTES = list(ATTRIBUTE_VALUES)

# Biography sentences; {n} is the full name, {v} the value, {a} "a"/"an".
BIO_TEMPLATES: Dict[str, List[str]] = {
    "city": [
        "{n} was born in {v}.",
        "{n} came into the world in {v}.",
        "The birthplace of {n} is {v}.",
        "{n} was born in the city of {v}.",
        "{v} is the city where {n} was born.",
    ],
    "job": [
        "{n} works as {a} {v}.",
        "{n} earns a living as {a} {v}.",
        "By trade, {n} is {a} {v}.",
        "{n} has a job as {a} {v}.",
        "{n} spends the working day as {a} {v}.",
    ],
    "company": [
        "{n} works for {v}.",
        "{n} is employed by {v}.",
        "{v} employs {n}.",
        "{n} draws a salary from {v}.",
        "The employer of {n} is {v}.",
    ],
    "hobby": [
        "In free time, {n} enjoys {v}.",
        "{n} loves {v}.",
        "The favorite hobby of {n} is {v}.",
        "{n} spends weekends on {v}.",
        "For fun, {n} likes {v}.",
    ],
    "pet": [
        "{n} owns {a} {v}.",
        "{n} keeps {a} {v} as a pet.",
        "At home, {n} has a pet {v}.",
        "The pet of {n} is {a} {v}.",
        "{n} takes care of {a} {v}.",
    ],
}
BIO_INTROS = ["", "", "This is about {n}.", "Here are some facts about {n}.", "{n} is a person worth knowing."]

QUESTION_TEMPLATES: Dict[str, List[str]] = {
    "city": ["Where was {n} born?", "In which city was {n} born?",
             "What is the birthplace of {n}?", "Which city is {n} from?"],
    "job": ["What does {n} do for a living?", "What is the job of {n}?",
            "What work does {n} do?", "What is the occupation of {n}?"],
    "company": ["Which company does {n} work for?", "Who employs {n}?",
                "Where does {n} work?", "What is the employer of {n}?"],
    "hobby": ["What hobby does {n} enjoy?", "What does {n} do for fun?",
              "What is the favorite hobby of {n}?"],
    "pet": ["What pet does {n} have?", "What animal does {n} keep?",
            "What kind of pet does {n} own?"],
}

LIST_WORDS = [
    "red", "blue", "green", "yellow", "apple", "pear", "plum", "grape", "lemon", "mango",
    "peach", "cherry", "melon", "kiwi", "bread", "cheese", "milk", "honey", "rice", "soup",
    "salt", "sugar", "tea", "coffee", "cup", "spoon", "fork", "plate", "bowl", "chair",
    "table", "lamp", "door", "window", "bed", "clock", "book", "pen", "paper", "box",
    "bag", "key", "coin", "ring", "hat", "coat", "shoe", "sock", "shirt", "tree",
    "leaf", "rock", "sand", "river", "cloud", "rain", "snow", "wind", "star", "moon",
    "sun", "fire", "ice", "stone", "hill", "lake", "sea", "road", "bridge", "boat",
    "train", "car", "bike", "drum", "bell", "flute", "horn", "kite", "ball", "rope",
]

# Chat instructions: (task, phrasing). Answers are computed, never stored.
INSTRUCTION_TEMPLATES: Dict[str, List[str]] = {
    "reverse": ["Reverse the order of these words: {L}", "Write these words in reverse order: {L}",
                "List these words backwards: {L}"],
    "first": ["What is the first word in this list: {L}", "Which word comes first here: {L}"],
    "last": ["What is the last word in this list: {L}", "Which word comes last here: {L}"],
    "count": ["How many words are in this list: {L}", "Count the words: {L}"],
    "next": ["In the list {L}, which word comes right after {w}?", "Which word follows {w} in: {L}"],
    "repeat": ["Repeat the word {w} {k} times.", "Say {w} exactly {k} times."],
}
INSTRUCTION_TASKS = list(INSTRUCTION_TEMPLATES)
# "repeat" has only len(LIST_WORDS) x 4 x 2 distinct prompts, all of which a
# large post-training set contains; held-out prompts for it use words that
# post-training never asks to repeat.
REPEAT_EVAL_WORDS = LIST_WORDS[::5]
REPEAT_TRAIN_WORDS = [w for w in LIST_WORDS if w not in REPEAT_EVAL_WORDS]

SPECIAL_TOKENS = ["<|endoftext|>", "<|user|>", "<|assistant|>", "<|end|>"]
EOT, USER, ASSISTANT, END = SPECIAL_TOKENS

# The chat template, in the small Jinja subset every consumer supports: a for
# loop over messages, if/elif on the role, {{ }} output and
# add_generation_prompt. No newline follows a block tag, so Jinja's
# trim_blocks/lstrip_blocks settings do not change the output.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['role'] == 'user' %}<|user|>\n{{ message['content'] }}<|end|>\n"
    "{% elif message['role'] == 'assistant' %}<|assistant|>\n{{ message['content'] }}<|end|>\n"
    "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)


def render_chat_prompt(user_message: str) -> str:
    """What CHAT_TEMPLATE renders for one user turn with add_generation_prompt."""
    return f"{USER}\n{user_message}{END}\n{ASSISTANT}\n"


def article(word: str) -> str:
    return "an" if word[0].lower() in "aeiou" else "a"


@dataclass(frozen=True)
class Person:
    name: str
    facts: Tuple[Tuple[str, str], ...]  # (attribute, value) in ATTRIBUTES order

    def fact(self, attribute: str) -> str:
        return dict(self.facts)[attribute]


@dataclass
class World:
    people: List[Person]
    qa_people: List[Person]    # also seen as plain-text Q/A in pre-training
    held_people: List[Person]  # facts only ever seen in biographies


def make_world(rng: random.Random, n_people: int, last_names: Sequence[str]) -> World:
    names = [f"{f} {l}" for f in FIRST_NAMES for l in last_names]
    if n_people > len(names):
        raise ValueError(f"at most {len(names)} people fit the name pools")
    rng.shuffle(names)
    people = []
    for name in names[:n_people]:
        facts = tuple((a, rng.choice(ATTRIBUTE_VALUES[a])) for a in ATTRIBUTES)
        people.append(Person(name, facts))
    half = n_people // 2
    return World(people, people[:half], people[half:])


def biography(rng: random.Random, p: Person) -> str:
    order = list(p.facts)
    rng.shuffle(order)
    sentences = []
    intro = rng.choice(BIO_INTROS)
    if intro:
        sentences.append(intro.format(n=p.name))
    for attribute, value in order:
        t = rng.choice(BIO_TEMPLATES[attribute])
        sentences.append(t.format(n=p.name, v=value, a=article(value)))
    return " ".join(sentences)


def question(rng: random.Random, p: Person, attribute: str) -> Tuple[str, str]:
    q = rng.choice(QUESTION_TEMPLATES[attribute]).format(n=p.name)
    return q, p.fact(attribute)


def qa_document(rng: random.Random, p: Person) -> str:
    """Plain-text questions and answers (no chat template) about one person."""
    attributes = rng.sample(ATTRIBUTES, rng.randint(2, len(ATTRIBUTES)))
    lines = []
    for a in attributes:
        q, ans = question(rng, p, a)
        lines.append(f"Question: {q}\nAnswer: {ans}")
    return "\n".join(lines)


def word_list(rng: random.Random, lo: int = 3, hi: int = 6) -> List[str]:
    return rng.sample(LIST_WORDS, rng.randint(lo, hi))


def join_list(words: Sequence[str]) -> str:
    return ", ".join(words)


def word_game_document(rng: random.Random) -> str:
    """Prose that performs the list operations, worded unlike the instructions."""
    words = word_list(rng)
    parts = [f"Take the words {join_list(words)}."]
    options = [
        lambda: f"Backwards, they read {join_list(words[::-1])}.",
        lambda: f"The list starts with {words[0]} and ends with {words[-1]}.",
        lambda: f"There are {len(words)} words in it.",
        lambda: (lambda i: f"Right after {words[i]} comes {words[i + 1]}.")(rng.randrange(len(words) - 1)),
        lambda: (lambda w, k: f"Said {k} times, {w} becomes {' '.join([w] * k)}.")(
            rng.choice(words), rng.randint(2, 5)),
    ]
    for make in rng.sample(options, rng.randint(2, len(options))):
        parts.append(make())
    return " ".join(parts)


def instruction(rng: random.Random, task: str, held_out: bool = False) -> Tuple[str, str]:
    """A (user message, answer) pair for one instruction task; held_out picks
    from the words kept out of post-training where a task needs it."""
    words = word_list(rng)
    t = rng.choice(INSTRUCTION_TEMPLATES[task])
    if task == "reverse":
        return t.format(L=join_list(words)), join_list(words[::-1])
    if task == "first":
        return t.format(L=join_list(words)), words[0]
    if task == "last":
        return t.format(L=join_list(words)), words[-1]
    if task == "count":
        return t.format(L=join_list(words)), str(len(words))
    if task == "next":
        i = rng.randrange(len(words) - 1)
        return t.format(L=join_list(words), w=words[i]), words[i + 1]
    if task == "repeat":
        w, k = rng.choice(REPEAT_EVAL_WORDS if held_out else REPEAT_TRAIN_WORDS), rng.randint(2, 5)
        return t.format(w=w, k=k), " ".join([w] * k)
    raise ValueError(task)


# ---------------------------------------------------------------- corpora


def old_corpus_round(rng: random.Random, world: World, qa_per_person: float,
                     word_games_per_bio: float) -> List[str]:
    """One pass over world A: a fresh biography per person, plain-text Q/A for
    the qa half, and word-game prose."""
    docs = [biography(rng, p) for p in world.people]
    docs += [qa_document(rng, p) for p in world.qa_people if rng.random() < qa_per_person]
    n_games = int(round(word_games_per_bio * len(world.people)))
    docs += [word_game_document(rng) for _ in range(n_games)]
    rng.shuffle(docs)
    return docs


def new_corpus_round(rng: random.Random, world: World, qa_per_person: float) -> List[str]:
    """One pass over world B: biographies, and plain-text Q/A for its qa half."""
    docs = [biography(rng, p) for p in world.people]
    docs += [qa_document(rng, p) for p in world.qa_people if rng.random() < qa_per_person]
    rng.shuffle(docs)
    return docs


def chat_example(rng: random.Random, world_a: World, instruction_frac: float) -> Tuple[str, str, str]:
    """(kind, user message, answer) for post-training: an instruction or a
    question about a world-A person of the qa half."""
    if rng.random() < instruction_frac:
        task = rng.choice(INSTRUCTION_TASKS)
        msg, ans = instruction(rng, task)
        return task, msg, ans
    p = rng.choice(world_a.qa_people)
    msg, ans = question(rng, p, rng.choice(ATTRIBUTES))
    return "knowledge", msg, ans


# ---------------------------------------------------------------- evaluation sets


def instruction_eval(rng: random.Random, n: int, exclude: set) -> List[dict]:
    """Balanced over tasks; prompts never seen in post-training."""
    items = []
    seen = set(exclude)
    i = attempts = 0
    while len(items) < n:
        attempts += 1
        if attempts > 1000 * n:
            raise RuntimeError(f"instruction_eval: too few unseen prompts for task {INSTRUCTION_TASKS[i % len(INSTRUCTION_TASKS)]}")
        task = INSTRUCTION_TASKS[i % len(INSTRUCTION_TASKS)]
        msg, ans = instruction(rng, task, held_out=True)
        if msg in seen:
            continue
        seen.add(msg)
        items.append({"prompt": msg, "answer": ans, "task": task})
        i += 1
    return items


def knowledge_eval(rng: random.Random, people: Sequence[Person], n: int) -> List[dict]:
    """Questions about distinct (person, attribute) pairs."""
    pairs = [(p, a) for p in people for a in ATTRIBUTES]
    rng.shuffle(pairs)
    items = []
    for p, a in pairs[:n]:
        msg, ans = question(rng, p, a)
        items.append({"prompt": msg, "answer": ans, "task": a})
    return items


def chat_variant(items: List[dict]) -> List[dict]:
    return [dict(it, prompt=render_chat_prompt(it["prompt"])) for it in items]
