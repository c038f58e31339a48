// Preference pairs built from the Rotten Tomatoes review snippets: within each
// movie, fresh reviews are preferred to rotten ones, paired one-to-one in a
// seeded random order (the reward-model demo's data).

import Anneal
import AnnealData
import Foundation

/// Fresh-over-rotten preference pairs from labelled movie reviews.
public enum ReviewPreferences {
    /// The prompt of a movie's pairs: "Review of <title>:", the title being the
    /// `movie_name` id with underscores as spaces (`about_a_boy` → "about a boy").
    public static func prompt(movie: String) -> String {
        "Review of " + movie.replacingOccurrences(of: "_", with: " ") + ":"
    }

    /// For each movie (movies in UTF-8 byte order), its fresh and its rotten
    /// reviews each put in a random order by one `RandomGenerator(seed:)`
    /// (a permutation of the fresh ones, then of the rotten ones, movie by
    /// movie) and paired one-to-one: min(#fresh, #rotten) pairs per movie with
    /// chosen = the fresh text, rejected = the rotten text, prompt `prompt(movie:)`
    /// and `line` = the fresh review's CSV line.
    public static func pairs(_ reviews: [MovieReview], seed: UInt64) -> [PreferencePair] {
        var byMovie: [String: (fresh: [MovieReview], rotten: [MovieReview])] = [:]
        for r in reviews {
            if r.label == 1 { byMovie[r.movie, default: ([], [])].fresh.append(r) } else { byMovie[r.movie, default: ([], [])].rotten.append(r) }
        }
        var rng = RandomGenerator(seed: seed)
        var out: [PreferencePair] = []
        for movie in byMovie.keys.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }) {
            let (fresh, rotten) = byMovie[movie]!
            let f = rng.permutation(fresh.count), r = rng.permutation(rotten.count)
            let prompt = prompt(movie: movie)
            for i in 0..<Swift.min(fresh.count, rotten.count) {
                out.append(PreferencePair(prompt: prompt, chosen: fresh[f[i]].text, rejected: rotten[r[i]].text, line: fresh[f[i]].line))
            }
        }
        return out
    }
}
