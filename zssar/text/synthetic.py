"""The text of the synthetic classes, written from each class's composition of motion primitives.

A synthetic class (:mod:`zssar.data.synthetic`) is a composition of primitives (raise arm, wave,
nod, squat...) on the left side, the right side or both. Its description, part and phase sentences are
built here from per-primitive templates, so an unseen composition shares the phrases of the seen
classes whose primitives it reuses. The result is stored like every other dataset's descriptions, in
``zssar/text/data/synthetic.json``, and read from there at run time;
``python scripts/write_synthetic_descriptions.py`` rewrites the file (a test checks it is up to date).
"""
from __future__ import annotations

import json
from pathlib import Path

# Per primitive: alternative names, a description, what each moved part does, and the start/middle/end.
# Fields like {arm} take the side ("the left arm" / "both arms"); {s}, {es}, {is_} agree with it.
# A part sentence starting with "~" is a side effect, dropped when another primitive moves that part.
_TEXT = {
    "raise_arm": (
        ("lift {arm} up", "put {arm} up overhead", "hold {arm} up high"),
        "{arm} swing{s} out to the side and up until {its} hand{pl} {is_} high above the head, stay{s} there "
        "briefly, then lower{s} back down.",
        {"arm": "{arm} rise{s} sideways to point straight up{other_arm}",
         "hand": "{hand} travel{s} from beside the thigh to high above the head{other_hand}"},
        ("{arm} lift{s} out to the side", "{arm} {is_} held straight up above the head",
         "{arm} come{s} back down to the side")),
    "wave": (
        ("wave hello with {hand}", "greet someone with {hand}", "wave {hand} from side to side"),
        "{arm} rise{s} out to the side with the elbow{pl} bent so the forearm{pl} point{s} up, {hand} sway{s} "
        "left and right several times, then {arm} drop{s} back down.",
        {"arm": "{arm} {is_} raised to shoulder height with the elbow{pl} bent{other_arm}",
         "hand": "{hand} wave{s} from side to side above the shoulder{pl}{other_hand}"},
        ("{arm} rise{s} to the side and the forearm{pl} turn{s} upward",
         "{hand} wave{s} left and right a few times", "{arm} lower{s} back to the side")),
    "punch": (
        ("throw a punch with {fist}", "jab forward with {fist}", "strike forward with {fist}"),
        "{fist} come{s} up to the chest, then {arm} shoot{s} straight forward and pull{s} back several "
        "times{alt}, and finally drop{s} to the side.",
        {"arm": "{arm} extend{s} forward and pull{s} back again and again{alt}{other_arm}",
         "hand": "{hand} {is_} clenched, driving forward at chest height{other_hand}",
         "hip": "the hips turn slightly with each punch"},
        ("{fist} rise{s} to guard in front of the chest", "{arm} punch{es} straight forward repeatedly{alt}",
         "{arm} relax{es} and drop{s} to the side")),
    "arm_circle": (
        ("rotate {arm} in circles", "swing {arm} around in circles", "make circles with {arm}"),
        "{arm} lift{s} straight out to the side and trace{s} wide circles around the shoulder, then "
        "lower{s} again.",
        {"arm": "{arm} {is_} held out straight and swing{s} around in circles{other_arm}",
         "hand": "{hand} draw{s} big circles out at the side of the body{other_hand}"},
        ("{arm} rise{s} straight out to the side", "{arm} circle{s} around the shoulder{pl}",
         "{arm} come{s} back down")),
    "reach": (
        ("stretch {arm} forward", "reach out with {arm}", "extend {arm} to the front"),
        "{arm} rise{s} forward until {it} {is_} level with the shoulder{pl}, {hand} stretch{es} out to the front "
        "and hold{s} there, then {arm} lower{s} again.",
        {"arm": "{arm} stretch{es} straight out in front at shoulder height{other_arm}",
         "hand": "{hand} reach{es} out forward as far as possible{other_hand}",
         "hip": "~the upper body leans slightly forward from the hips"},
        ("{arm} lift{s} forward", "{hand} stay{s} stretched out in front", "{arm} lower{s} back down")),
    "kick": (
        ("kick forward with {leg}", "do a front kick with {leg}", "swing {leg} forward"),
        "Standing on the other leg, {leg} bend{s} at the knee, snap{s} forward and up into a kick and come{s} "
        "back down, twice.",
        {"leg": "{leg} swing{s} forward and up from the hip as the knee straightens{other_leg}",
         "foot": "{foot} leave{s} the floor and kick{s} out in front",
         "hip": "the hips tilt back a little during each kick"},
        ("the weight shifts onto the other leg", "{leg} kick{s} forward twice", "{foot} return{s} to the floor")),
    "leg_side": (
        ("lift {leg} out to the side", "swing {leg} out sideways", "do a side leg raise with {leg}"),
        "{leg} lift{s} straight out to the side while the body leans slightly the other way, hold{s} for a "
        "moment, then come{s} back down.",
        {"leg": "{leg} open{s} sideways away from the body{other_leg}",
         "foot": "{foot} rise{s} off the floor out to the side", "hip": "the hips tilt as the leg opens sideways"},
        ("{leg} begin{s} to lift sideways", "{leg} {is_} held out to the side", "{foot} return{s} to the floor")),
    "nod": (
        ("nod", "bob the head up and down", "nod in agreement"),
        "The head tips forward and back up several times while the rest of the body stays still.",
        {"head": "the head tips down and up repeatedly"},
        ("the chin dips slightly", "the head nods up and down a few times",
         "the head returns to looking straight ahead")),
    "shake": (
        ("shake the head no", "turn the head side to side", "say no with the head"),
        "The head turns left and right several times as if saying no, while the body stays still.",
        {"head": "the head turns from side to side"},
        ("the head starts turning to one side", "the head swings left and right a few times",
         "the head comes back to face forward")),
    "bend": (
        ("bow forward", "lean over forward", "bend at the waist"),
        "The upper body tips forward from the hips until it is nearly horizontal, pauses, and straightens "
        "up again.",
        {"hip": "the body hinges forward at the hips", "head": "the head goes down with the upper body",
         "arm": "~the arms hang down towards the floor", "hand": "~the hands dangle below the chest"},
        ("the upper body starts to lean forward", "the back stays bent over forward",
         "the upper body rises back to standing")),
    "squat": (
        ("crouch down", "bend the knees and sit down low", "do a squat"),
        "Both knees and hips bend so the body sinks low as if sitting on a chair, holds the low position, then "
        "stands back up.",
        {"hip": "the hips drop down and back", "leg": "both knees bend deeply",
         "foot": "both feet stay flat on the floor", "head": "~the head lowers with the body"},
        ("the knees bend and the body lowers", "the body stays down in a deep squat",
         "the legs straighten to stand back up")),
    "jump": (
        ("hop up", "leap into the air", "jump off the ground"),
        "The knees bend into a crouch, both legs push off so the whole body rises into the air with the knees "
        "tucked, then the feet land and the knees bend to absorb the landing.",
        {"leg": "both legs bend, push off and tuck up in the air",
         "foot": "both feet leave the floor and land again",
         "hip": "the hips rise into the air and come back down",
         "head": "~the head rises and falls with the body"},
        ("the knees bend to prepare for take-off", "the body leaves the ground with the legs tucked",
         "the feet land and the knees bend to absorb the impact")),
    "clap": (
        ("applaud", "clap", "bring the hands together"),
        "Both arms come up in front of the chest, the hands come together and apart several times, then the "
        "arms drop.",
        {"arm": "both arms are held forward at chest height, moving in and out",
         "hand": "the palms meet in front of the chest again and again"},
        ("both hands rise in front of the chest", "the hands clap together repeatedly",
         "the arms lower to the sides")),
    "twist": (
        ("rotate the upper body", "turn the torso side to side", "twist at the waist"),
        "The elbows bend to hold the hands in front, and the upper body rotates left and right around the spine "
        "while the hips and legs stay put.",
        {"hip": "the waist rotates while the hips keep facing forward",
         "head": "~the head turns with the shoulders",
         "arm": "~the arms stay bent and swing along with the chest",
         "hand": "~the hands are held in front of the belly"},
        ("the elbows bend and the hands come up in front", "the upper body turns to the left and to the right",
         "the torso faces forward again and the arms drop")),
    "march": (
        ("walk in place", "step on the spot", "march on the spot"),
        "The knees lift one after the other in a steady rhythm without moving forward, and the arms swing "
        "opposite to the legs.",
        {"leg": "the knees lift up in turn", "foot": "the feet rise and stamp down alternately",
         "arm": "~the arms swing forward and back opposite the legs",
         "hip": "the hips shift slightly with each step"},
        ("one knee begins to lift", "the legs take turns stepping up and down",
         "the feet settle and the body stands still")),
}
# Per primitive: ten places where people make that movement, the object in use and the object acted on
# ("environment / used object / target object"; "none" where there is no object). A class's context
# triples are its primitives' triples in turn, so an unseen composition shares context words with the
# seen classes that reuse its primitives.
_CONTEXTS = {
    "raise_arm": "a classroom/none/the teacher; a gym/a dumbbell/the ceiling; a warehouse/a box/a high shelf; a "
                 "concert hall/a lighter/the stage; a kitchen/a jar/the top cupboard; a stadium/a flag/the crowd; "
                 "a bedroom/none/the ceiling lamp; a park/a kite/the sky; a library/a book/the top shelf; an "
                 "auction room/a paddle/the auctioneer",
    "wave": "a train platform/none/a departing friend; a street/none/a taxi; a beach/a towel/the lifeguard; an "
            "airport/none/arriving family; a schoolyard/none/a parent; a harbour/a handkerchief/a boat; a home "
            "office/none/the webcam; a parade route/a small flag/the marchers; a hallway/none/a colleague; a "
            "garden/none/the neighbour",
    "punch": "a boxing gym/boxing gloves/a punching bag; a dojo/hand wraps/a sparring pad; a living room/a game "
             "controller/the screen; a fitness studio/none/the air; a boxing ring/gloves/the opponent; a garage/a "
             "focus mitt/the trainer; a martial arts hall/none/a wooden board; a park/none/an imaginary opponent; "
             "a basement/a heavy bag/the bag; a self-defence class/a foam pad/the instructor",
    "arm_circle": "a gym/none/the air; a swimming pool deck/none/the water; a school sports hall/none/the class; a "
                  "running track/none/the shoulders; a yoga studio/none/the mirror; a football pitch/none/the "
                  "teammates; a living room/light weights/the air; a physiotherapy clinic/a resistance band/the "
                  "physiotherapist; a park/none/the morning air; a dance studio/ribbons/the audience",
    "reach": "a supermarket/none/a cereal box; a kitchen/a ladle/a pot; an office/none/a stapler; a library/none/a "
             "book; a shop counter/a bank card/the card reader; a doorway/none/the door handle; a bus/none/the "
             "grab pole; a dining table/none/the salt shaker; a workshop/none/a wrench; a nursery/none/a toy",
    "kick": "a football pitch/a boot/the ball; a dojo/none/a kick shield; a park/none/a pile of leaves; a "
            "playground/a sneaker/a rubber ball; a garage/none/the door; a beach/none/the sand; a kickboxing "
            "gym/shin guards/a heavy bag; a street/none/a tin can; a living room/none/a beanbag; a rugby field/a "
            "boot/the rugby ball",
    "leg_side": "a ballet studio/a barre/the air; a gym/an ankle weight/the air; a physiotherapy room/a resistance "
                "band/the band; a yoga studio/a mat/the floor; a martial arts hall/none/a target pad; a living "
                "room/a chair/the air; a dance floor/none/the partner; a football pitch/none/a cone; a hospital "
                "ward/a walking frame/the air; a stretching area/none/the wall",
    "nod": "a meeting room/none/the speaker; a classroom/none/the teacher; a bus/headphones/the music; a cafe/none/a "
           "friend; an interview room/none/the interviewer; a shop/none/the cashier; a car/none/the driver; a "
           "library/none/a librarian; a doctor's office/none/the doctor; a dance club/none/the beat",
    "shake": "a restaurant/none/the waiter; a market stall/none/the seller; a living room/none/a child; a "
             "classroom/none/a classmate; a kitchen/none/the offered dish; a football stadium/none/the referee; a "
             "card table/none/the dealer; a shop/none/the salesperson; a swimming pool/none/water in the ears; a "
             "park/none/a stranger",
    "bend": "a garden/none/a weed; a living room/none/a dropped coin; a temple/none/the altar; a stage/none/the "
            "audience; a kitchen/none/the low oven; a car park/none/a car tyre; a laundry room/none/the washing "
            "machine; a nursery/none/a crawling baby; a beach/none/a seashell; a dojo/none/the sensei",
    "squat": "a gym/a barbell/the floor; a garden/a trowel/the flower bed; a campsite/none/the campfire; a "
             "kitchen/none/the bottom drawer; a warehouse/none/a heavy crate; a playground/none/a toddler; a fitness "
             "class/a kettlebell/the mat; a riverbank/none/the water; a garage/a wrench/the car wheel; a "
             "street/none/a shoelace",
    "jump": "a basketball court/none/the hoop; a playground/a skipping rope/the rope; a trampoline park/none/the "
            "trampoline; a volleyball court/none/the ball; an athletics track/none/the high bar; a pool edge/none/the "
            "water; a music festival/none/the crowd; a park/none/a puddle; a fitness class/a step box/the box; an "
            "orchard/none/an apple branch",
    "clap": "a theatre/none/the actors; a classroom/none/the performers; a stadium/none/the players; a birthday "
            "party/none/the cake; a concert hall/none/the orchestra; a school assembly/none/the speaker; a flamenco "
            "bar/none/the rhythm; a kindergarten/none/a song; a wedding hall/none/the couple; a graduation "
            "ceremony/none/the graduates",
    "twist": "a gym/a medicine ball/the side wall; a golf course/a club/the ball; a dance floor/none/the music; a "
             "yoga studio/none/the mat; a car/none/the back seat; an office/none/a colleague behind; a baseball "
             "field/a bat/the pitch; a locker room/a towel/the back; a lake/a kayak paddle/the water; a "
             "hallway/none/the corner",
    "march": "a parade ground/none/the drum beat; a living room/a fitness video/the television; a sports day/none/"
             "the starting line; a band practice/a drum/the band leader; a gym/none/the step counter; a kitchen/none/"
             "the floor; a porch/wet boots/the doormat; a hospital corridor/none/the physiotherapist; a barracks "
             "yard/a rifle/the sergeant; a nursery/none/a marching song",
}
_IDLE = {
    "head": "the head stays upright, facing forward", "hand": "the hands rest loosely beside the thighs",
    "arm": "the arms hang relaxed at the sides", "hip": "the hips stay level and still",
    "leg": "the legs stay straight, supporting the body", "foot": "the feet stay flat on the floor",
}


def _side_words(side: str) -> dict:
    if side == "b":
        return dict(arm="both arms", hand="both hands", fist="both fists", leg="both legs", foot="both feet",
                    s="", es="", pl="s", is_="are", it="they", its="their", alt=", left and right in turn",
                    other_arm="", other_hand="", other_leg="")
    n = {"l": "left", "r": "right"}.get(side, "")
    return dict(arm=f"the {n} arm", hand=f"the {n} hand", fist=f"the {n} fist", leg=f"the {n} leg",
                foot=f"the {n} foot", s="s", es="es", pl="", is_="is", it="it", its="its", alt="",
                other_arm=", while the other arm hangs at the side", other_hand=", while the other hand stays low",
                other_leg=", while the other leg holds the body up")


def _sentence(clauses, joiner: str) -> str:
    text = joiner.join(clauses)
    return text[0].upper() + text[1:] + ("" if text.endswith(".") else ".")


def _context_triples(composition) -> list[dict]:
    """Ten context triples of a composition: its primitives' triples in turn."""
    lists = [[dict(zip(("environment", "used_object", "target_object"), t.split("/")))
              for t in _CONTEXTS[prim].split("; ")] for prim, _ in composition]
    return [lists[i % len(lists)][i // len(lists)] for i in range(10)]


def _key_parts(parts: list[dict]) -> list[str]:
    """The body parts the primitives move (not their side effects), in the schema's part order."""
    moved = {k for p in parts for k, v in p.items() if not v.startswith("~")}
    return [k for k in _IDLE if k in moved]


def class_texts(compositions) -> dict[str, dict]:
    """Every class's text in the description schema (:mod:`zssar.text.schema`): label, synonyms,
    description, six part sentences, PURLS parts, three phase sentences, context slots and sentence, and
    variants (the description, the phases in turn, the moving parts, and a plain sentence), ten context
    triples and the key parts (the parts the primitives move).

    ``compositions``: (class name, ((primitive, side), ...)) per class, as
    :data:`zssar.data.synthetic.CLASS_COMPOSITIONS` defines them."""
    out = {}
    for name, composition in compositions:
        filled = []
        for prim, side in composition:
            verbs, desc, parts, phases = _TEXT[prim]
            w = _side_words(side)
            filled.append(([v.format(**w) for v in verbs], desc.format(**w),
                           {k: v.format(**w) for k, v in parts.items()}, [p.format(**w) for p in phases]))
        if len(filled) == 1:
            synonyms = [v for v in filled[0][0] if v != name][:3]
        else:  # "do a squat and put both arms up overhead"
            (a, *_), (b, *_) = filled
            synonyms = [f"{a[0]} and {b[0]}", f"{b[2]} and {a[1]}"]
        description = " ".join(
            _sentence([f[1]], "") if i == 0 else "At the same time, " + f[1][0].lower() + f[1][1:]
            for i, f in enumerate(filled))
        part_text = {}
        for part, idle in _IDLE.items():
            strong = [f[2][part] for f in filled if part in f[2] and not f[2][part].startswith("~")]
            weak = [f[2][part][1:] for f in filled if f[2].get(part, "").startswith("~")]
            part_text[part] = _sentence(strong or weak or [idle], ", and ")
        phases = {key: _sentence([f[3][i] for f in filled], " while ")
                  for i, key in enumerate(("start", "middle", "end"))}
        # PURLS groups the body into four parts; its sentences are joins of the six above.
        purls = {"head": part_text["head"], "hands": f"{part_text['hand']} {part_text['arm']}",
                 "torso": part_text["hip"], "legs": f"{part_text['leg']} {part_text['foot']}"}
        # Synthetic people act alone, empty-handed, in an empty room: the context slots say so.
        context = {"environment": "an empty room in front of a depth camera",
                   "used_object": "no object, only the body", "target_object": "no target, the movement is "
                   "made in the air"}
        moving = [part_text[p] for p in _IDLE if part_text[p] != _sentence([_IDLE[p]], "")]
        variants = [description, " ".join(phases.values()), " ".join(moving),
                    _sentence([f"a person stands alone in an empty room and is asked to {synonyms[0]}"], "")]
        out[name] = {"label": name, "synonyms": synonyms, "description": description, "parts": part_text,
                     "phases": phases, "purls_parts": purls, "context": context,
                     "context_sentence": _sentence([f"a person does '{name}' alone in an empty room, "
                                                    "holding nothing and touching nothing"], ""),
                     "contexts": _context_triples(composition),
                     "key_parts": _key_parts([_TEXT[prim][2] for prim, _ in composition]), "variants": variants}
    return out


def write_descriptions(compositions, path: Path) -> None:
    """The description file of the synthetic classes (dataset ``synthetic``, project-authored)."""
    texts = class_texts(compositions)
    payload = {"dataset": "synthetic", "source": "generated from each class's composition of motion primitives",
               "classes": list(texts.values())}
    Path(path).write_text(json.dumps(payload, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")

