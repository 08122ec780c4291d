/*
 * The analysis components our mappings (shared/indexes.py) need, registered under the names and
 * parameters of Elastic's analysis-common module, which is not published on Maven Central. The
 * Lucene filters themselves ship in lucene-analysis-common (already in lib/); this only exposes
 * them to index settings. Same names, so the mappings are valid here and on the official image
 * (compose/), whose bundled analysis-common defines them. Installed by ../elasticsearch.sh as the
 * module modules/cqrs-analysis (descriptor: analysis-plugin-descriptor.properties).
 *
 * Token filter types (parameters as in analysis-common; anything else is rejected at index creation):
 *   lowercase     language: greek | irish | turkish (optional)
 *   asciifolding  preserve_original (false)
 *   stemmer       language (or name): english | porter | light_english | kstem | minimal_english |
 *                 possessive_english (default porter)
 *   porter_stem, kstem
 *   edge_ngram    min_gram (1), max_gram (2), preserve_original (false)
 * Pre-configured filters (usable by name without a definition): asciifolding, porter_stem, kstem,
 * edge_ngram (1..1). `lowercase` and `stop` are the server's own.
 */
package cqrs.es.analysis;

import org.apache.lucene.analysis.TokenStream;
import org.apache.lucene.analysis.el.GreekLowerCaseFilter;
import org.apache.lucene.analysis.en.EnglishMinimalStemFilter;
import org.apache.lucene.analysis.en.EnglishPossessiveFilter;
import org.apache.lucene.analysis.en.KStemFilter;
import org.apache.lucene.analysis.en.PorterStemFilter;
import org.apache.lucene.analysis.ga.IrishLowerCaseFilter;
import org.apache.lucene.analysis.LowerCaseFilter;
import org.apache.lucene.analysis.miscellaneous.ASCIIFoldingFilter;
import org.apache.lucene.analysis.ngram.EdgeNGramTokenFilter;
import org.apache.lucene.analysis.tr.TurkishLowerCaseFilter;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.index.analysis.AbstractTokenFilterFactory;
import org.elasticsearch.index.analysis.NormalizingTokenFilterFactory;
import org.elasticsearch.index.analysis.PreConfiguredTokenFilter;
import org.elasticsearch.index.analysis.TokenFilterFactory;
import org.elasticsearch.indices.analysis.AnalysisModule.AnalysisProvider;
import org.elasticsearch.plugins.AnalysisPlugin;
import org.elasticsearch.plugins.Plugin;

import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;

public class CqrsAnalysisPlugin extends Plugin implements AnalysisPlugin {

    @Override
    public Map<String, AnalysisProvider<TokenFilterFactory>> getTokenFilters() {
        return Map.of(
            "lowercase", (indexSettings, env, name, settings) -> lowercase(name, settings),
            "asciifolding", (indexSettings, env, name, settings) -> asciifolding(name, settings),
            "stemmer", (indexSettings, env, name, settings) -> stemmer(name, settings),
            "porter_stem", (indexSettings, env, name, settings) -> filter(name, PorterStemFilter::new),
            "kstem", (indexSettings, env, name, settings) -> filter(name, KStemFilter::new),
            "edge_ngram", (indexSettings, env, name, settings) -> edgeNgram(name, settings)
        );
    }

    @Override
    public List<PreConfiguredTokenFilter> getPreConfiguredTokenFilters() {
        return List.of(
            PreConfiguredTokenFilter.singleton("asciifolding", true, ASCIIFoldingFilter::new),
            PreConfiguredTokenFilter.singleton("porter_stem", false, PorterStemFilter::new),
            PreConfiguredTokenFilter.singleton("kstem", false, KStemFilter::new),
            PreConfiguredTokenFilter.singleton("edge_ngram", false, false, input -> new EdgeNGramTokenFilter(input, 1))
        );
    }

    private static TokenFilterFactory filter(String name, UnaryOperator<TokenStream> create) {
        return new AbstractTokenFilterFactory(name) {
            @Override
            public TokenStream create(TokenStream tokenStream) {
                return create.apply(tokenStream);
            }
        };
    }

    /** A filter that also applies to normalisation (fuzzy/prefix terms, keyword normalizers). */
    private static TokenFilterFactory normalizing(String name, UnaryOperator<TokenStream> create,
                                                  UnaryOperator<TokenStream> normalize) {
        final class Normalizing extends AbstractTokenFilterFactory implements NormalizingTokenFilterFactory {
            Normalizing() {
                super(name);
            }

            @Override
            public TokenStream create(TokenStream tokenStream) {
                return create.apply(tokenStream);
            }

            @Override
            public TokenStream normalize(TokenStream tokenStream) {
                return normalize.apply(tokenStream);
            }
        }
        return new Normalizing();
    }

    private static TokenFilterFactory lowercase(String name, Settings settings) {
        String language = settings.get("language");
        UnaryOperator<TokenStream> create = switch (language == null ? "" : language) {
            case "" -> LowerCaseFilter::new;
            case "greek" -> GreekLowerCaseFilter::new;
            case "irish" -> IrishLowerCaseFilter::new;
            case "turkish" -> TurkishLowerCaseFilter::new;
            default -> throw new IllegalArgumentException("language [" + language + "] not supported for lowercase");
        };
        return normalizing(name, create, create);
    }

    private static TokenFilterFactory asciifolding(String name, Settings settings) {
        boolean preserveOriginal = settings.getAsBoolean("preserve_original", false);
        // Normalising a query term yields one term: the folded one, never the original too.
        return normalizing(name, input -> new ASCIIFoldingFilter(input, preserveOriginal), ASCIIFoldingFilter::new);
    }

    private static TokenFilterFactory stemmer(String name, Settings settings) {
        String language = settings.get("language", settings.get("name", "porter"));
        UnaryOperator<TokenStream> create = switch (language) {
            case "english", "porter" -> PorterStemFilter::new;
            case "light_english", "kstem" -> KStemFilter::new;
            case "minimal_english" -> EnglishMinimalStemFilter::new;
            case "possessive_english" -> EnglishPossessiveFilter::new;
            default -> throw new IllegalArgumentException(
                "stemmer language [" + language + "] is not provided by cqrs-analysis (English stemmers only)");
        };
        return filter(name, create);
    }

    private static TokenFilterFactory edgeNgram(String name, Settings settings) {
        int minGram = settings.getAsInt("min_gram", 1);
        int maxGram = settings.getAsInt("max_gram", 2);
        boolean preserveOriginal = settings.getAsBoolean("preserve_original", false);
        if (minGram < 1 || maxGram < minGram) {
            throw new IllegalArgumentException("edge_ngram needs 1 <= min_gram <= max_gram, got [" + minGram + ", " + maxGram + "]");
        }
        return filter(name, input -> new EdgeNGramTokenFilter(input, minGram, maxGram, preserveOriginal));
    }
}
