"""Hand-kept word lists: visual concepts the dictionary gets wrong, and the grammar's words.

CC-CEDICT orders senses by lexicography, not by what a camera sees: its first sense of 球 is
"ball" but of 书 an abbreviation of a classic, of 马桶 "chamber pot", of 熊 a surname. The
table below gives the sense an image-segmentation prompt means, spelled as the COCO and LVIS
category names spell it (SAM 3 was trained on such names). Entries are simplified Chinese.
"""

from __future__ import annotations

VISUAL_CONCEPTS: dict[str, str] = {
    # people
    "人": "person", "男人": "man", "女人": "woman", "男孩": "boy", "女孩": "girl",
    "孩子": "child", "小孩": "child", "婴儿": "baby", "行人": "pedestrian",
    # vehicles
    "车": "car", "汽车": "car", "小汽车": "car", "轿车": "car", "公交车": "bus",
    "公共汽车": "bus", "巴士": "bus", "火车": "train", "卡车": "truck", "货车": "truck",
    "船": "boat", "小船": "boat", "飞机": "airplane", "自行车": "bicycle",
    "单车": "bicycle", "摩托车": "motorcycle", "出租车": "taxi",
    # street
    "红绿灯": "traffic light", "交通灯": "traffic light", "消防栓": "fire hydrant",
    "停车标志": "stop sign", "停车计时器": "parking meter", "长椅": "bench", "路灯": "street light",
    # animals
    "鸟": "bird", "猫": "cat", "狗": "dog", "马": "horse", "羊": "sheep", "牛": "cow",
    "大象": "elephant", "象": "elephant", "熊": "bear", "斑马": "zebra", "长颈鹿": "giraffe",
    "鸭子": "duck", "鸡": "chicken", "猪": "pig", "兔子": "rabbit", "鱼": "fish",
    # accessories
    "背包": "backpack", "书包": "backpack", "雨伞": "umbrella", "伞": "umbrella",
    "手提包": "handbag", "包": "bag", "领带": "tie", "行李箱": "suitcase", "帽子": "hat",
    "眼镜": "glasses", "衣服": "clothes", "衬衫": "shirt", "裙子": "dress", "外套": "coat",
    "鞋": "shoe", "鞋子": "shoe",
    # sports
    "飞盘": "frisbee", "滑雪板": "skis", "单板滑雪板": "snowboard", "球": "ball",
    "运动球": "sports ball", "风筝": "kite", "棒球棒": "baseball bat",
    "棒球手套": "baseball glove", "滑板": "skateboard", "冲浪板": "surfboard",
    "网球拍": "tennis racket",
    # kitchen
    "瓶子": "bottle", "酒杯": "wine glass", "杯子": "cup", "叉子": "fork", "刀": "knife",
    "勺子": "spoon", "碗": "bowl", "盘子": "plate",
    # food
    "香蕉": "banana", "苹果": "apple", "三明治": "sandwich", "橙子": "orange",
    "橘子": "orange", "西兰花": "broccoli", "胡萝卜": "carrot", "热狗": "hot dog",
    "披萨": "pizza", "比萨": "pizza", "甜甜圈": "donut", "蛋糕": "cake",
    # furniture
    "椅子": "chair", "沙发": "couch", "盆栽": "potted plant", "床": "bed",
    "餐桌": "dining table", "桌子": "table", "马桶": "toilet",
    # electronics
    "电视": "tv", "电视机": "tv", "笔记本电脑": "laptop", "电脑": "computer",
    "鼠标": "mouse", "遥控器": "remote", "键盘": "keyboard", "手机": "cell phone",
    # appliances
    "微波炉": "microwave", "烤箱": "oven", "烤面包机": "toaster", "水槽": "sink",
    "冰箱": "refrigerator",
    # indoor
    "书": "book", "时钟": "clock", "钟": "clock", "花瓶": "vase", "剪刀": "scissors",
    "泰迪熊": "teddy bear", "吹风机": "hair drier", "牙刷": "toothbrush",
    # colours: CC-CEDICT's 红色 is also "revolutionary", 黄色 "pornographic"
    "红": "red", "红色": "red", "黄": "yellow", "黄色": "yellow", "蓝": "blue", "蓝色": "blue",
    "绿": "green", "绿色": "green", "白": "white", "白色": "white", "黑": "black",
    "黑色": "black", "灰": "gray", "灰色": "gray", "紫": "purple", "紫色": "purple",
    "粉": "pink", "粉色": "pink", "粉红色": "pink", "橙色": "orange", "棕色": "brown",
    "金色": "golden", "银色": "silver",
    # attributes
    "大": "big", "小": "small", "长": "long", "短": "short", "高": "tall", "新": "new",
    # the object over the dictionary's first sense
    "门": "door",
    "旧": "old", "老": "old", "圆": "round", "圆形": "round", "方形": "square",
}  # fmt: skip

# Location words after a noun, with the English preposition they become (X上的Y → Y on X).
LOCATIONS: dict[str, str] = {
    "上": "on", "上面": "on", "上边": "on", "之上": "on",
    "里": "in", "里面": "in", "里边": "in", "中": "in", "内": "in", "之中": "in",
    "下": "under", "下面": "under", "下边": "under", "底下": "under",
    "旁": "next to", "旁边": "next to", "边上": "next to", "附近": "near",
    "前": "in front of", "前面": "in front of", "后": "behind", "后面": "behind",
    "外": "outside", "外面": "outside",
}  # fmt: skip

# Verbs that open a modifier clause (穿X的人 → person wearing X), with their English participle.
CLAUSE_VERBS: dict[str, str] = {
    "穿": "wearing", "穿着": "wearing", "戴": "wearing", "戴着": "wearing",
    "拿": "holding", "拿着": "holding", "骑": "riding", "骑着": "riding",
    "有": "with", "带": "with", "带着": "with",
}  # fmt: skip

# Numerals and demonstratives: with the measure word after them they are dropped (三只狗 → dog,
# 这只猫 → cat); other words in DROPPED_WORDS are dropped anywhere.
COUNT_WORDS = frozenset("0123456789零一二两三四五六七八九十百千万几多这那每哪某")
MEASURE_WORDS = frozenset("个只辆条张把件位头匹台块本双群些棵朵架艘盏支根片颗座间部杯瓶盘对套串")
DROPPED_WORDS = frozenset(
    {"的", "这", "那", "这个", "那个", "这些", "那些", "一些", "所有", "图片", "图中", "照片"}
)
