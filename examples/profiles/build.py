#!/usr/bin/env python3
"""Writes sunny.json and midnight.json: profiles in the shape an Extended
Quota Spotify app gets (audio features, genres), for demos and tests.

Each track carries its artist's *mean* audio features as published by
Spotify's Web API (~2020), from the public Kaggle dataset "Spotify Dataset
1921-2020, 600k+ Tracks" (data_w_genres.csv, see ../../docs/models.md), read
from ../shared/datasets/ next to the project. Song titles are real; using an
artist's mean for each of its songs is an approximation, stated here.

Run: python3 examples/profiles/build.py
"""
import csv
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "../../../shared/datasets/spotify-audio-features-by-artist/data_w_genres.csv")

PROFILES = {
    "sunny": [
        ("KC & The Sunshine Band", "Get Down Tonight"),
        ("ABBA", "Dancing Queen"),
        ("Lizzo", "Juice"),
        ("Pharrell Williams", "Happy - From \"Despicable Me 2\""),
        ("Kool & The Gang", "Celebration"),
        ("Bob Marley & The Wailers", "Three Little Birds"),
        ("Katy Perry", "Roar"),
        ("Bill Withers", "Lovely Day"),
    ],
    "midnight": [
        ("Bon Iver", "Holocene"),
        ("Max Richter", "On the Nature of Daylight"),
        ("Ludovico Einaudi", "Experience"),
        ("Enya", "Only Time"),
        ("Elliott Smith", "Between the Bars"),
        ("Radiohead", "Exit Music (For A Film)"),
        ("Lana Del Rey", "Video Games"),
        ("Nils Frahm", "Says"),
    ],
}


def genres(cell):
    cell = cell.strip()
    if cell in ("", "[]"):
        return []
    return [g.strip().strip("'\"") for g in cell.strip("[]").split(",") if g.strip()]


def main():
    rows = {r["artists"]: r for r in csv.DictReader(open(DATA, encoding="utf-8"))}
    for name, songs in PROFILES.items():
        artists, tracks = [], []
        for artist, title in songs:
            r = rows[artist]
            f = lambda k: round(float(r[k]), 3)
            artists.append({"name": artist, "genres": genres(r["genres"])[:4],
                            "popularity": int(float(r["popularity"]))})
            tracks.append({"name": title, "artists": [artist], "audio_features": {
                "valence": f("valence"), "energy": f("energy"),
                "danceability": f("danceability"), "tempo": f("tempo"),
                "mode": f("mode"), "acousticness": f("acousticness"),
                "loudness": f("loudness"), "instrumentalness": f("instrumentalness")}})
        profile = {"schema": "spotifyart.profile/1",
                   "source": {"kind": "manual", "notes": [
                       "audio features are each artist's mean from Spotify's Web API (~2020)"]},
                   "top_artists": {"medium_term": artists},
                   "top_tracks": {"medium_term": tracks}}
        with open(os.path.join(HERE, f"{name}.json"), "w", encoding="utf-8") as out:
            json.dump(profile, out, indent=2, ensure_ascii=False)
            out.write("\n")
    print("wrote sunny.json and midnight.json")


if __name__ == "__main__":
    main()
