"""The synthetic shop's catalog vocabulary: a category tree with words per leaf.

Each leaf has nouns (what the product is), a typical price and a share of
traffic; each top-level category has adjectives, features and materials that
titles and descriptions are built from, so text similarity follows categories.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Leaf:
    name: str
    nouns: tuple[str, ...]
    median_price: float
    traffic: float  # relative share of browsing within its top category
    consumable: bool = False


@dataclass(frozen=True)
class Top:
    name: str
    traffic: float  # relative share of all browsing
    adjectives: tuple[str, ...]
    features: tuple[str, ...]
    materials: tuple[str, ...]
    leaves: tuple[Leaf, ...]
    conversion: float = 1.0  # relative chance that a look turns into a cart


TREE: tuple[Top, ...] = (
    Top(
        "Electronics", 0.24,
        ("wireless", "smart", "portable", "ultra-slim", "pro", "compact", "noise-cancelling", "4K", "fast-charging", "bluetooth"),
        ("long battery life", "USB-C charging", "voice control", "high-resolution display", "water resistance", "low-latency audio", "quick pairing", "a two-year warranty"),
        ("aluminium", "glass", "recycled plastic", "carbon fibre"),
        (
            Leaf("Smartphones", ("smartphone", "phone", "handset"), 420.0, 1.6),
            Leaf("Laptops", ("laptop", "notebook", "ultrabook", "chromebook"), 780.0, 1.0),
            Leaf("Headphones", ("headphones", "earbuds", "headset", "earphones"), 95.0, 1.3),
            Leaf("Cameras", ("camera", "action camera", "lens", "camcorder"), 520.0, 0.5),
            Leaf("Smart Home", ("smart speaker", "smart plug", "security camera", "thermostat", "doorbell"), 80.0, 0.8),
            Leaf("Accessories", ("charger", "phone case", "power bank", "cable", "keyboard", "mouse"), 25.0, 1.2),
        ),
        conversion=2.6,
    ),
    Top(
        "Fashion", 0.17,
        ("classic", "slim-fit", "oversized", "vintage", "casual", "elegant", "lightweight", "waterproof", "organic", "striped"),
        ("a relaxed fit", "machine-washable fabric", "reinforced stitching", "a soft lining", "adjustable straps", "breathable material"),
        ("cotton", "linen", "wool", "leather", "denim", "silk", "polyester"),
        (
            Leaf("Women's Clothing", ("dress", "blouse", "skirt", "cardigan", "jumpsuit"), 45.0, 1.5),
            Leaf("Men's Clothing", ("shirt", "chinos", "hoodie", "blazer", "t-shirt"), 42.0, 1.1),
            Leaf("Shoes", ("sneakers", "boots", "sandals", "loafers", "trainers"), 75.0, 1.2),
            Leaf("Bags", ("backpack", "tote bag", "handbag", "wallet", "duffel bag"), 55.0, 0.7),
            Leaf("Jewelry", ("necklace", "ring", "bracelet", "earrings"), 60.0, 0.5),
            Leaf("Watches", ("watch", "smartwatch", "chronograph"), 160.0, 0.5),
        ),
    ),
    Top(
        "Home & Kitchen", 0.16,
        ("stainless", "non-stick", "modern", "rustic", "stackable", "space-saving", "ergonomic", "minimalist", "energy-efficient"),
        ("dishwasher-safe parts", "easy assembly", "a scratch-resistant finish", "a timer function", "quiet operation", "a compact footprint"),
        ("oak", "ceramic", "cast iron", "bamboo", "stainless steel", "cotton"),
        (
            Leaf("Cookware", ("frying pan", "saucepan", "knife set", "baking tray", "wok"), 40.0, 1.0),
            Leaf("Furniture", ("sofa", "desk", "bookshelf", "armchair", "dining table"), 330.0, 0.8),
            Leaf("Bedding", ("duvet", "pillow", "sheet set", "mattress topper"), 55.0, 0.7),
            Leaf("Decor", ("lamp", "vase", "wall art", "rug", "mirror", "candle"), 35.0, 0.9),
            Leaf("Appliances", ("coffee machine", "blender", "air fryer", "vacuum cleaner", "kettle", "toaster"), 120.0, 1.2),
            Leaf("Storage", ("storage box", "shelf organiser", "laundry basket", "food container"), 20.0, 0.5),
        ),
        conversion=1.3,
    ),
    Top(
        "Beauty", 0.11,
        ("hydrating", "vegan", "fragrance-free", "long-lasting", "matte", "nourishing", "gentle", "brightening"),
        ("hyaluronic acid", "SPF 30 protection", "natural extracts", "a travel-size bottle", "dermatologist-tested formula"),
        ("shea butter", "argan oil", "aloe vera", "vitamin C"),
        (
            Leaf("Skincare", ("moisturiser", "serum", "face cleanser", "sunscreen", "face mask"), 22.0, 1.3, True),
            Leaf("Makeup", ("lipstick", "mascara", "foundation", "eyeshadow palette"), 18.0, 1.1, True),
            Leaf("Haircare", ("shampoo", "conditioner", "hair dryer", "hair oil"), 16.0, 0.8, True),
            Leaf("Fragrance", ("eau de parfum", "eau de toilette", "body mist"), 55.0, 0.6),
        ),
    ),
    Top(
        "Sports & Outdoors", 0.10,
        ("lightweight", "durable", "breathable", "insulated", "foldable", "high-performance", "all-weather"),
        ("moisture-wicking fabric", "a reinforced frame", "adjustable resistance", "reflective details", "a carry bag"),
        ("nylon", "steel", "rubber", "neoprene", "aluminium"),
        (
            Leaf("Fitness", ("yoga mat", "dumbbells", "resistance bands", "kettlebell", "exercise bike"), 35.0, 1.2),
            Leaf("Cycling", ("bike helmet", "bike light", "road bike", "cycling jersey"), 90.0, 0.6),
            Leaf("Camping", ("tent", "sleeping bag", "camping stove", "headlamp"), 70.0, 0.6),
            Leaf("Running", ("running shoes", "running shorts", "hydration vest", "running watch"), 65.0, 0.8),
            Leaf("Team Sports", ("football", "basketball", "shin guards", "goalkeeper gloves"), 28.0, 0.5),
        ),
    ),
    Top(
        "Books & Media", 0.09,
        ("bestselling", "illustrated", "award-winning", "collector's", "new", "deluxe", "classic"),
        ("a foreword by the author", "bonus content", "a hardcover binding", "a digital download code", "an illustrated cover"),
        ("paperback", "hardcover", "vinyl", "digital"),
        (
            Leaf("Fiction", ("novel", "thriller", "fantasy saga", "mystery novel"), 14.0, 1.2),
            Leaf("Non-fiction", ("biography", "cookbook", "history book", "self-help guide"), 18.0, 0.9),
            Leaf("Children's Books", ("picture book", "bedtime stories", "activity book"), 9.0, 0.6),
            Leaf("Music", ("vinyl record", "album", "box set"), 24.0, 0.5),
            Leaf("Video Games", ("video game", "game controller", "gaming headset"), 55.0, 1.0),
        ),
    ),
    Top(
        "Toys & Baby", 0.06,
        ("educational", "colourful", "interactive", "safe", "soft", "creative", "wooden"),
        ("age-appropriate design", "non-toxic paint", "rechargeable batteries", "easy-clean surfaces"),
        ("wood", "plush", "BPA-free plastic", "organic cotton"),
        (
            Leaf("Toys", ("building blocks", "doll", "toy car", "plush toy", "train set"), 30.0, 1.2),
            Leaf("Baby Care", ("stroller", "baby monitor", "nappies", "baby bottle"), 45.0, 0.9, True),
            Leaf("Games & Puzzles", ("board game", "jigsaw puzzle", "card game"), 25.0, 0.7),
        ),
    ),
    Top(
        "Grocery", 0.07,
        ("organic", "fair-trade", "gluten-free", "family-size", "roasted", "sugar-free", "artisan"),
        ("resealable packaging", "no artificial flavours", "locally sourced ingredients", "a rich aroma"),
        ("whole bean", "ground", "loose leaf", "dark chocolate"),
        (
            Leaf("Snacks", ("crisps", "chocolate bar", "granola", "mixed nuts"), 4.0, 1.0, True),
            Leaf("Beverages", ("sparkling water", "juice", "energy drink", "kombucha"), 6.0, 0.8, True),
            Leaf("Pantry", ("olive oil", "pasta", "rice", "spice set", "honey"), 7.0, 0.9, True),
            Leaf("Coffee & Tea", ("coffee beans", "green tea", "espresso capsules", "herbal tea"), 11.0, 1.1, True),
        ),
    ),
)

LEAVES: tuple[tuple[Top, Leaf], ...] = tuple((top, leaf) for top in TREE for leaf in top.leaves)

COLOURS = ("black", "white", "navy", "grey", "red", "green", "sand", "rose", "blue", "olive")
SERIES = ("One", "Plus", "Max", "Lite", "Air", "Go", "Neo", "Prime", "Edge", "Flex", "Core", "Mini")
SYLLABLES = ("ka", "lo", "ven", "tri", "mo", "zen", "ar", "qui", "sol", "bel", "nor", "vi", "ta", "ro", "lux", "dex")

AGE_BANDS = ("18-24", "25-34", "35-44", "45-54", "55-64", "65+")
AGE_WEIGHTS = (0.16, 0.29, 0.23, 0.16, 0.10, 0.06)
GENDERS = ("F", "M", "U")
GENDER_WEIGHTS = (0.52, 0.46, 0.02)
LOCATIONS = (
    "London", "Manchester", "Birmingham", "Leeds", "Glasgow", "Bristol", "Liverpool", "Edinburgh",
    "Cardiff", "Belfast", "Dublin", "Paris", "Berlin", "Madrid", "Amsterdam",
)
LOCATION_WEIGHTS = (0.22, 0.08, 0.08, 0.06, 0.05, 0.05, 0.05, 0.04, 0.03, 0.03, 0.07, 0.08, 0.07, 0.05, 0.04)
DEVICES = ("desktop", "mobile", "tablet")
DEVICE_WEIGHTS = (0.55, 0.38, 0.07)

# How much each (age band, gender) leans towards each top category; 1 = neutral.
AGE_LEANINGS = {
    "18-24": {"Fashion": 1.6, "Electronics": 1.3, "Books & Media": 1.3, "Toys & Baby": 0.5, "Home & Kitchen": 0.6},
    "25-34": {"Toys & Baby": 1.8, "Home & Kitchen": 1.2, "Fashion": 1.2},
    "35-44": {"Toys & Baby": 1.5, "Home & Kitchen": 1.4, "Sports & Outdoors": 1.2},
    "45-54": {"Home & Kitchen": 1.4, "Grocery": 1.3, "Fashion": 0.8},
    "55-64": {"Home & Kitchen": 1.3, "Grocery": 1.5, "Books & Media": 1.3, "Electronics": 0.8},
    "65+": {"Books & Media": 1.6, "Grocery": 1.6, "Electronics": 0.6, "Fashion": 0.6},
}
GENDER_LEANINGS = {
    "F": {"Beauty": 1.9, "Fashion": 1.3, "Electronics": 0.8},
    "M": {"Electronics": 1.3, "Sports & Outdoors": 1.3, "Beauty": 0.45},
    "U": {},
}
