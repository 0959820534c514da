namespace Aletheia.Wal.Perf.Compare.Report;

/// <summary>The part of RESULTS.md that <c>compare</c> owns: everything between <see cref="Begin"/> and <see cref="End"/>.</summary>
public static class ResultsSection
{
    /// <summary>The line that opens the section.</summary>
    public const string Begin = "<!-- compare:begin -->";

    /// <summary>The line that closes the section.</summary>
    public const string End = "<!-- compare:end -->";

    /// <summary>
    /// <paramref name="document"/> with the text between its markers replaced by <paramref name="body"/>; the markers and
    /// everything outside them stay as they were.
    /// </summary>
    /// <exception cref="ArgumentException">The document lacks either marker, has either twice, or has them in the wrong order.</exception>
    public static string Replace(string document, string body)
    {
        ArgumentNullException.ThrowIfNull(document);
        ArgumentNullException.ThrowIfNull(body);
        int begin = SingleIndexOf(document, Begin);
        int end = SingleIndexOf(document, End);
        if (end < begin)
        {
            throw new ArgumentException($"'{End}' comes before '{Begin}': the section must open before it closes.", nameof(document));
        }

        string inner = body.EndsWith('\n') ? body : body + "\n";
        return string.Concat(document.AsSpan(0, begin + Begin.Length), "\n", inner, document.AsSpan(end));
    }

    /// <summary>The section alone, markers included: what <c>--out FILE</c> writes.</summary>
    public static string Standalone(string body)
    {
        ArgumentNullException.ThrowIfNull(body);
        return Begin + "\n" + (body.EndsWith('\n') ? body : body + "\n") + End + "\n";
    }

    private static int SingleIndexOf(string document, string marker)
    {
        int first = document.IndexOf(marker, StringComparison.Ordinal);
        if (first < 0)
        {
            throw new ArgumentException($"The document has no '{marker}' line: add '{Begin}' and '{End}' where the comparison belongs.", nameof(document));
        }

        if (document.IndexOf(marker, first + marker.Length, StringComparison.Ordinal) >= 0)
        {
            throw new ArgumentException($"The document has '{marker}' more than once: keep one pair of markers.", nameof(document));
        }

        return first;
    }
}
