"""Class names of the datasets zssar reads, in each dataset's official label order (0-based here).

NTU RGB+D 60/120: the A1..A120 list of the dataset's README (the first 60 are NTU 60).
PKU-MMD phase I: the 51 action names in official label order.
KARD, UTKinect-Action3D and NW-UCLA: the action names of their publications, in label order.
Description files (``zssar/text/data/*.json``) are keyed by exactly these names. The lists are
shared vocabulary of the data layer (readers, splits) and the text layer (descriptions), so they
live beside both rather than in either.
"""
from __future__ import annotations

NTU120_CLASSES: tuple[str, ...] = (
    "drink water", "eat meal/snack", "brushing teeth", "brushing hair", "drop", "pickup", "throw",
    "sitting down", "standing up (from sitting position)", "clapping", "reading", "writing",
    "tear up paper", "wear jacket", "take off jacket", "wear a shoe", "take off a shoe", "wear on glasses",
    "take off glasses", "put on a hat/cap", "take off a hat/cap", "cheer up", "hand waving",
    "kicking something", "reach into pocket", "hopping (one foot jumping)", "jump up",
    "make a phone call/answer phone", "playing with phone/tablet", "typing on a keyboard",
    "pointing to something with finger", "taking a selfie", "check time (from watch)",
    "rub two hands together", "nod head/bow", "shake head", "wipe face", "salute",
    "put the palms together", "cross hands in front (say stop)", "sneeze/cough", "staggering", "falling",
    "touch head (headache)", "touch chest (stomachache/heart pain)", "touch back (backache)",
    "touch neck (neckache)", "nausea or vomiting condition", "use a fan (with hand or paper)/feeling warm",
    "punching/slapping other person", "kicking other person", "pushing other person",
    "pat on back of other person", "point finger at the other person", "hugging other person",
    "giving something to other person", "touch other person's pocket", "handshaking",
    "walking towards each other", "walking apart from each other",
    # NTU RGB+D 120 adds A61..A120
    "put on headphone", "take off headphone", "shoot at the basket", "bounce ball", "tennis bat swing",
    "juggling table tennis balls", "hush (quite)", "flick hair", "thumb up", "thumb down", "make ok sign",
    "make victory sign", "staple book", "counting money", "cutting nails", "cutting paper (using scissors)",
    "snapping fingers", "open bottle", "sniff (smell)", "squat down", "toss a coin", "fold paper",
    "ball up paper", "play magic cube", "apply cream on face", "apply cream on hand back", "put on bag",
    "take off bag", "put something into a bag", "take something out of a bag", "open a box",
    "move heavy objects", "shake fist", "throw up cap/hat", "hands up (both hands)", "cross arms",
    "arm circles", "arm swings", "running on the spot", "butt kicks (kick backward)", "cross toe touch",
    "side kick", "yawn", "stretch oneself", "blow nose", "hit other person with something",
    "wield knife towards other person", "knock over other person (hit with body)",
    "grab other person's stuff", "shoot at other person with a gun", "step on foot", "high-five",
    "cheers and drink", "carry something with other person", "take a photo of other person",
    "follow other person", "whisper in other person's ear", "exchange things with other person",
    "support somebody with hand", "finger-guessing game (playing rock-paper-scissors)",
)
NTU60_CLASSES: tuple[str, ...] = NTU120_CLASSES[:60]

PKU51_CLASSES: tuple[str, ...] = (
    "bow", "brushing hair", "brushing teeth", "check time (from watch)", "cheer up", "clapping",
    "cross hands in front (say stop)", "drink water", "drop", "eat meal/snack", "falling",
    "giving something to other person", "hand waving", "handshaking", "hopping (one foot jumping)",
    "hugging other person", "jump up", "kicking other person", "kicking something",
    "make a phone call/answer phone", "pat on back of other person", "pickup", "playing with phone/tablet",
    "point finger at the other person", "pointing to something with finger",
    "punching/slapping other person", "pushing other person", "put on a hat/cap",
    "put something inside pocket", "reading", "rub two hands together", "salute", "sitting down",
    "standing up", "take off a hat/cap", "take off glasses", "take off jacket",
    "take out something from pocket", "taking a selfie", "tear up paper", "throw", "touch back (backache)",
    "touch chest (stomachache/heart pain)", "touch head (headache)", "touch neck (neckache)",
    "typing on a keyboard", "use a fan (with hand or paper)/feeling warm", "wear jacket", "wear on glasses",
    "wipe face", "writing",
)

KARD_CLASSES: tuple[str, ...] = (
    "horizontal arm wave", "high arm wave", "two hand wave", "catch cap", "high throw", "draw X",
    "draw tick", "toss paper", "forward kick", "side kick", "take umbrella", "bend", "hand clap", "walk",
    "phone call", "drink", "sit down", "stand up",
)

# File prefixes walk, sitDown, standUp, pickUp, carry, throw, push, pull, waveHands, clapHands.
UTKINECT_CLASSES: tuple[str, ...] = (
    "walk", "sit down", "stand up", "pick up", "carry", "throw", "push", "pull", "wave hands", "clap hands",
)

# Labels 1..10 = actions a01, a02, a03, a04, a05, a06, a08, a09, a11, a12.
NWUCLA_CLASSES: tuple[str, ...] = (
    "pick up with one hand", "pick up with two hands", "drop trash", "walk around", "sit down", "stand up",
    "donning", "doffing", "throw", "carry",
)

CLASS_NAMES: dict[str, tuple[str, ...]] = {
    "ntu60": NTU60_CLASSES, "ntu120": NTU120_CLASSES, "pku-mmd": PKU51_CLASSES, "kard": KARD_CLASSES,
    "utkinect": UTKINECT_CLASSES, "nw-ucla": NWUCLA_CLASSES,
}
