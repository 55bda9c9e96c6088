#!/usr/bin/env python3
"""Writes the sample Spotify data exports in this folder, deterministically.

Three listeners with different tastes, laid out the way Spotify's
"Download your data" delivers them, so tests and the README run on the shapes
real users have:

- alice/  extended history (Streaming_History_Audio_2023.json, ..._2024.json,
          a video file) AND an account-data folder (MyData/) covering the
          last year, plus playlists, library, Wrapped and Userdata JSON that
          are not listening history. Upbeat pop, disco and funk; daytime
          listener in Sweden; rarely skips.
- bob/    account data only (MyData/StreamingHistory_music_0.json, _1.json,
          StreamingHistory_podcast_0.json, and the other account files).
          Melancholic indie folk and ambient; late-night listener in the UK;
          replays the same songs.
- carol.zip  the older extended format (endsong_0.json, endsong_1.json with
          username/ip_addr_decrypted fields) zipped as Spotify sends it.
          Metal and alternative rock; evening listener in the US; skips a lot.

Song, artist and album names are real; the plays, ids, IP addresses (RFC 5737
documentation ranges) and personal fields are invented.

Run from anywhere: python3 examples/exports/generate.py
"""

import hashlib
import json
import os
import random
import shutil
import zipfile
from datetime import datetime, timedelta, timezone

HERE = os.path.dirname(os.path.abspath(__file__))
B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

ALICE = [
    ("ABBA", "Dancing Queen", "Arrival", 230),
    ("ABBA", "Mamma Mia", "ABBA", 213),
    ("ABBA", "Gimme! Gimme! Gimme! (A Man After Midnight)", "Voulez-Vous", 292),
    ("ABBA", "Lay All Your Love on Me", "Super Trouper", 274),
    ("Carly Rae Jepsen", "Run Away With Me", "E•MO•TION", 251),
    ("Carly Rae Jepsen", "Call Me Maybe", "Kiss", 193),
    ("Carly Rae Jepsen", "Cut to the Feeling", "Cut to the Feeling", 207),
    ("Lizzo", "About Damn Time", "Special", 191),
    ("Lizzo", "Good as Hell", "Cuz I Love You (Super Deluxe)", 159),
    ("Lizzo", "Juice", "Cuz I Love You", 195),
    ("KC & The Sunshine Band", "Get Down Tonight", "KC and the Sunshine Band", 195),
    ("KC & The Sunshine Band", "That's the Way (I Like It)", "KC and the Sunshine Band", 186),
    ("Daft Punk", "Get Lucky (feat. Pharrell Williams and Nile Rodgers)", "Random Access Memories", 369),
    ("Daft Punk", "One More Time", "Discovery", 320),
    ("Daft Punk", "Digital Love", "Discovery", 301),
    ("Bill Withers", "Lovely Day", "Menagerie", 254),
    ("Fleetwood Mac", "Dreams - 2004 Remaster", "Rumours", 257),
    ("Fleetwood Mac", "Everywhere - 2017 Remaster", "Tango in the Night", 228),
    ("Kool & The Gang", "Celebration", "Celebrate!", 298),
    ("Kool & The Gang", "Get Down On It", "Something Special", 292),
    ("Mark Ronson", "Uptown Funk (feat. Bruno Mars)", "Uptown Special", 269),
    ("Robyn", "Dancing On My Own", "Body Talk", 288),
    ("Robyn", "Call Your Girlfriend", "Body Talk", 228),
    ("Dua Lipa", "Levitating", "Future Nostalgia", 203),
    ("Dua Lipa", "Don't Start Now", "Future Nostalgia", 183),
    ("Earth, Wind & Fire", "September", "The Best of Earth, Wind & Fire Vol. 1", 215),
    ("Earth, Wind & Fire", "Let's Groove", "Raise!", 339),
    ("Pharrell Williams", "Happy - From \"Despicable Me 2\"", "G I R L", 233),
    ("Radiohead", "No Surprises", "OK Computer", 229),
]

BOB = [
    ("Bon Iver", "Skinny Love", 238),
    ("Bon Iver", "Holocene", 337),
    ("Bon Iver", "Re: Stacks", 401),
    ("Phoebe Bridgers", "Motion Sickness", 230),
    ("Phoebe Bridgers", "Funeral", 233),
    ("Phoebe Bridgers", "Kyoto", 184),
    ("Phoebe Bridgers", "Garden Song", 221),
    ("Elliott Smith", "Between the Bars", 141),
    ("Elliott Smith", "Say Yes", 135),
    ("Elliott Smith", "Waltz #2 (XO)", 280),
    ("Radiohead", "No Surprises", 229),
    ("Radiohead", "Exit Music (For A Film)", 265),
    ("Radiohead", "How to Disappear Completely", 356),
    ("Radiohead", "Reckoner", 290),
    ("Max Richter", "On the Nature of Daylight", 372),
    ("Max Richter", "Vladimir's Blues", 75),
    ("Nils Frahm", "Says", 490),
    ("Nils Frahm", "Ambre", 231),
    ("Ólafur Arnalds", "Near Light", 227),
    ("Ólafur Arnalds", "Saman", 196),
    ("Sufjan Stevens", "Fourth of July", 278),
    ("Sufjan Stevens", "Should Have Known Better", 307),
    ("Sufjan Stevens", "Death with Dignity", 240),
    ("Lana Del Rey", "Video Games", 282),
    ("Lana Del Rey", "Summertime Sadness", 265),
    ("Portishead", "Roads", 305),
    ("Portishead", "Glory Box", 301),
    ("Fleetwood Mac", "Dreams - 2004 Remaster", 257),
]

BOB_PODCASTS = [
    ("Song Exploder", ["Phoebe Bridgers - Kyoto", "Bon Iver - Holocene", "Radiohead - Nude"]),
    ("The Daily", ["The Sunday Read", "A Quiet Revolution", "What Happens Next"]),
]

CAROL = [
    ("Metallica", "Master of Puppets (Remastered)", "Master of Puppets (Remastered)", 515),
    ("Metallica", "Enter Sandman", "Metallica", 331),
    ("Metallica", "One", "...And Justice for All", 446),
    ("Slipknot", "Duality", "Vol. 3: (The Subliminal Verses)", 252),
    ("Slipknot", "Psychosocial", "All Hope Is Gone", 283),
    ("Slipknot", "Before I Forget", "Vol. 3: (The Subliminal Verses)", 278),
    ("Rage Against The Machine", "Killing In the Name", "Rage Against The Machine", 314),
    ("Rage Against The Machine", "Bulls on Parade", "Evil Empire", 231),
    ("Nine Inch Nails", "Closer", "The Downward Spiral", 373),
    ("Nine Inch Nails", "Head Like a Hole", "Pretty Hate Machine", 299),
    ("Nirvana", "Smells Like Teen Spirit", "Nevermind", 301),
    ("Nirvana", "Come As You Are", "Nevermind", 218),
    ("System Of A Down", "Chop Suey!", "Toxicity", 210),
    ("System Of A Down", "Toxicity", "Toxicity", 219),
    ("Arctic Monkeys", "Do I Wanna Know?", "AM", 272),
    ("Arctic Monkeys", "R U Mine?", "AM", 201),
    ("Daft Punk", "Harder, Better, Faster, Stronger", "Discovery", 224),
    ("Joy Division", "Love Will Tear Us Apart", "Substance", 205),
    ("Joy Division", "She's Lost Control", "Unknown Pleasures", 236),
]


def uri(kind, *parts):
    h = int(hashlib.sha256("|".join(parts).encode()).hexdigest(), 16)
    s = ""
    for _ in range(22):
        h, r = divmod(h, 62)
        s += B62[r]
    return f"spotify:{kind}:{s}"


def zipf_pick(rng, items, s=1.1):
    weights = [1.0 / (i + 1) ** s for i in range(len(items))]
    return rng.choices(items, weights=weights)[0]


def local_hour(rng, profile):
    """An hour of day drawn from a listener's daily rhythm."""
    hours, weights = zip(*profile)
    return rng.choices(hours, weights=weights)[0]


def plays(rng, start, end, n, rhythm, utc_offset_h):
    """n play start times (UTC) between start and end, following rhythm."""
    span = (end - start).days
    out = []
    for _ in range(n):
        day = start + timedelta(days=rng.randrange(span))
        h = local_hour(rng, rhythm)
        t = day.replace(hour=0, minute=0, second=0) + timedelta(
            hours=h - utc_offset_h, minutes=rng.randrange(60), seconds=rng.randrange(60)
        )
        out.append(t)
    out.sort()
    return out


def iso(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def write_json(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2, ensure_ascii=False)
        f.write("\n")


DAY = [(h, 1.0) for h in range(8, 19)] + [(h, 0.3) for h in (19, 20, 21)] + [(7, 0.4)]
NIGHT = [(h, 1.0) for h in (21, 22, 23, 0, 1, 2)] + [(h, 0.25) for h in range(10, 21)] + [(3, 0.4)]
EVENING = [(h, 1.0) for h in range(15, 24)] + [(h, 0.2) for h in range(9, 15)] + [(0, 0.3)]


def extended_record(rng, t, song, country, ip, skip_p, modern=True, username=None):
    artist, track, album, secs = song
    skipped = rng.random() < skip_p
    ms = rng.randrange(2_000, 25_000) if skipped else int(secs * 1000 * rng.uniform(0.97, 1.0))
    rec = {"ts": iso(t)}
    if not modern:
        rec["username"] = username
    rec["platform"] = "android" if modern else "Android OS 11 API 30 (Google, Pixel 4a)"
    rec["ms_played"] = ms
    rec["conn_country"] = country
    if modern:
        rec["ip_addr"] = ip
    else:
        rec["ip_addr_decrypted"] = ip
        rec["user_agent_decrypted"] = "unknown"
    rec.update({
        "master_metadata_track_name": track,
        "master_metadata_album_artist_name": artist,
        "master_metadata_album_album_name": album,
        "spotify_track_uri": uri("track", artist, track),
        "episode_name": None,
        "episode_show_name": None,
        "spotify_episode_uri": None,
    })
    if modern:
        rec.update({
            "audiobook_title": None,
            "audiobook_uri": None,
            "audiobook_chapter_uri": None,
            "audiobook_chapter_title": None,
        })
    rec.update({
        "reason_start": rng.choice(["trackdone", "trackdone", "clickrow", "fwdbtn"]),
        "reason_end": "fwdbtn" if skipped else "trackdone",
        "shuffle": rng.random() < 0.3,
        # Older exports often leave skipped null and say it in reason_end.
        "skipped": skipped if modern else None,
        "offline": False,
        "offline_timestamp": int(t.timestamp()) if modern else 0,
        "incognito_mode": False,
    })
    return rec


def episode_record(t, show, episode, country, ip):
    return {
        "ts": iso(t), "platform": "android", "ms_played": 1_500_000, "conn_country": country,
        "ip_addr": ip, "master_metadata_track_name": None,
        "master_metadata_album_artist_name": None, "master_metadata_album_album_name": None,
        "spotify_track_uri": None, "episode_name": episode, "episode_show_name": show,
        "spotify_episode_uri": uri("episode", show, episode), "audiobook_title": None,
        "audiobook_uri": None, "audiobook_chapter_uri": None, "audiobook_chapter_title": None,
        "reason_start": "clickrow", "reason_end": "endplay", "shuffle": False, "skipped": False,
        "offline": False, "offline_timestamp": int(t.timestamp()), "incognito_mode": False,
    }


def account_files(dirpath, owner, country, email, tracks):
    """The non-history files of an account-data export."""
    write_json(os.path.join(dirpath, "Userdata.json"), {
        "username": f"{owner.lower()}_{hashlib.sha1(owner.encode()).hexdigest()[:6]}",
        "email": email, "country": country, "createdFromFacebook": False,
        "facebookUid": None, "birthdate": "1994-05-17", "gender": "neutral",
        "postalCode": None, "mobileNumber": None, "mobileOperator": None,
        "mobileBrand": None, "creationTime": "2014-03-02",
    })
    write_json(os.path.join(dirpath, "Playlist1.json"), {"playlists": [{
        "name": f"{owner}'s favourites", "lastModifiedDate": "2024-11-02",
        "items": [{"track": {"trackName": t, "artistName": a, "albumName": al,
                             "trackUri": uri("track", a, t)},
                   "episode": None, "audiobook": None, "localTrack": None,
                   "addedDate": "2024-10-01"} for a, t, al in tracks[:5]],
        "description": None, "numberOfFollowers": 0}]})
    write_json(os.path.join(dirpath, "YourLibrary.json"), {
        "tracks": [{"artist": a, "album": al, "track": t, "uri": uri("track", a, t)}
                   for a, t, al in tracks[:8]],
        "albums": [], "shows": [], "episodes": [], "bannedTracks": [], "artists": [],
        "bannedArtists": [], "other": []})
    write_json(os.path.join(dirpath, "SearchQueries.json"), [
        {"platform": "ANDROID", "searchTime": "2024-06-01T10:00:00.000Z[UTC]",
         "searchQuery": tracks[0][0].lower(), "searchInteractionURIs": []}])
    write_json(os.path.join(dirpath, "Marquee.json"), [
        {"artistName": tracks[1][0], "segment": "Light listeners"}])


def make_alice():
    rng = random.Random(2023)
    root = os.path.join(HERE, "alice")
    shutil.rmtree(root, ignore_errors=True)
    ext = os.path.join(root, "Spotify Extended Streaming History")
    by_year = {}
    times = plays(rng, datetime(2023, 1, 1, tzinfo=timezone.utc),
                  datetime(2024, 12, 31, tzinfo=timezone.utc), 1500, DAY, 1)
    for t in times:
        rec = extended_record(rng, t, zipf_pick(rng, ALICE), "SE", "203.0.113.23", 0.07)
        by_year.setdefault(t.year, []).append(rec)
    # Real exports hold plays of removed or local tracks with null names,
    # and podcast episodes mixed into the audio history.
    by_year[2023].insert(10, {**by_year[2023][10], "master_metadata_track_name": None,
                              "master_metadata_album_artist_name": None,
                              "master_metadata_album_album_name": None,
                              "spotify_track_uri": None})
    by_year[2024].append(episode_record(datetime(2024, 12, 30, 9, tzinfo=timezone.utc),
                                        "Switched on Pop", "The Disco Revival", "SE",
                                        "203.0.113.23"))
    for year, recs in by_year.items():
        write_json(os.path.join(ext, f"Streaming_History_Audio_{year}.json"), recs)
    write_json(os.path.join(ext, "Streaming_History_Video_2023-2024.json"), [
        {**episode_record(datetime(2024, 2, 2, 12, tzinfo=timezone.utc), "Tiny Desk",
                          "Robyn: Tiny Desk Concert", "SE", "203.0.113.23")}])
    # The account-data download of the same person: its last year overlaps
    # the extended history and must not be counted twice.
    mydata = os.path.join(root, "MyData")
    last_year = [r for r in by_year[2024] if r["master_metadata_track_name"]]
    write_json(os.path.join(mydata, "StreamingHistory_music_0.json"), [
        {"endTime": r["ts"][:16].replace("T", " "),
         "artistName": r["master_metadata_album_artist_name"],
         "trackName": r["master_metadata_track_name"], "msPlayed": r["ms_played"]}
        for r in last_year])
    account_files(mydata, "Alice", "SE", "alice@example.com",
                  [(a, t, al) for a, t, al, _ in ALICE])
    write_json(os.path.join(mydata, "Wrapped2024.json"), {
        "topArtists": {"topArtists": ["ABBA", "Carly Rae Jepsen", "Lizzo"],
                       "numUniqueArtists": 14},
        "topTracks": {"topTracks": ["Dancing Queen"], "count": 81},
        "yearlyMetrics": {"totalMsListened": 17_000_000}})


def make_bob():
    rng = random.Random(1987)
    root = os.path.join(HERE, "bob")
    shutil.rmtree(root, ignore_errors=True)
    mydata = os.path.join(root, "MyData")
    times = plays(rng, datetime(2024, 1, 1, tzinfo=timezone.utc),
                  datetime(2024, 12, 31, tzinfo=timezone.utc), 1400, NIGHT, 0)
    recs = []
    for t in times:
        artist, track, secs = zipf_pick(rng, BOB, s=1.3)
        skipped = rng.random() < 0.12
        ms = rng.randrange(1_000, 20_000) if skipped else int(secs * 1000 * rng.uniform(0.95, 1.0))
        end = t + timedelta(milliseconds=ms)
        recs.append({"endTime": end.strftime("%Y-%m-%d %H:%M"), "artistName": artist,
                     "trackName": track, "msPlayed": ms})
    # Account data names removed tracks "Unknown Track"/"Unknown Artist".
    recs.insert(100, {"endTime": recs[100]["endTime"], "artistName": "Unknown Artist",
                      "trackName": "Unknown Track", "msPlayed": 120000})
    half = len(recs) // 2
    write_json(os.path.join(mydata, "StreamingHistory_music_0.json"), recs[:half])
    write_json(os.path.join(mydata, "StreamingHistory_music_1.json"), recs[half:])
    pods = []
    for t in plays(rng, datetime(2024, 1, 1, tzinfo=timezone.utc),
                   datetime(2024, 12, 31, tzinfo=timezone.utc), 40, DAY, 0):
        show, eps = rng.choice(BOB_PODCASTS)
        pods.append({"endTime": t.strftime("%Y-%m-%d %H:%M"), "podcastName": show,
                     "episodeName": rng.choice(eps), "msPlayed": rng.randrange(60_000, 2_400_000)})
    write_json(os.path.join(mydata, "StreamingHistory_podcast_0.json"), pods)
    account_files(mydata, "Bob", "GB", "bob@example.com",
                  [(a, t, "") for a, t, _ in BOB])
    write_json(os.path.join(mydata, "Inferences.json"), {"inferences": ["1P_Custom_Melancholy"]})


def make_carol():
    rng = random.Random(1999)
    path = os.path.join(HERE, "carol.zip")
    times = plays(rng, datetime(2021, 3, 1, tzinfo=timezone.utc),
                  datetime(2022, 8, 31, tzinfo=timezone.utc), 1100, EVENING, -5)
    recs = [extended_record(rng, t, zipf_pick(rng, CAROL, s=0.9), "US", "198.51.100.77",
                            0.45, modern=False, username="carol_x") for t in times]
    half = len(recs) // 2
    if os.path.exists(path):
        os.remove(path)
    fixed = (2023, 1, 1, 0, 0, 0)  # fixed timestamps keep the zip byte-identical
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for name, data in [
            ("MyData/endsong_0.json", recs[:half]),
            ("MyData/endsong_1.json", recs[half:]),
        ]:
            info = zipfile.ZipInfo(name, date_time=fixed)
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, json.dumps(data, indent=2, ensure_ascii=False) + "\n")
        info = zipfile.ZipInfo("MyData/ReadMeFirst_ExtendedStreamingHistory.txt", date_time=fixed)
        z.writestr(info, "Your extended streaming history (sample).\n")


if __name__ == "__main__":
    make_alice()
    make_bob()
    make_carol()
    print("wrote alice/, bob/ and carol.zip in", HERE)
