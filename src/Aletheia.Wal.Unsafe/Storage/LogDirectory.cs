using System.Globalization;

namespace Aletheia.Wal.Storage;

/// <summary>
/// The log directory as a whole: the check that a directory about to receive a new log is not somebody else's
/// (<see cref="WalOptions.AllowForeignFiles"/>).
/// </summary>
internal static class LogDirectory
{
    /// <summary>At most this many foreign files are named in the refusal; the rest are counted.</summary>
    internal const int NamedForeignFiles = 5;

    /// <summary>
    /// Refuses to put a new log among other files: throws if <paramref name="directory"/> holds no log (no
    /// <c>wal.head</c>, no segment) but holds files the log does not name as its own. Called before the log creates
    /// anything in the directory, its lock file included.
    /// </summary>
    /// <exception cref="WalException">The directory holds foreign files and no log (the message names it and the first files), or cannot be listed.</exception>
    public static void RefuseForeignFiles(WalStorage storage, string directory)
    {
        string[] names;
        try
        {
            names = storage.ListFiles(directory, "*");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new WalException($"Cannot open the log in '{directory}': {e.Message}", e);
        }

        if (names.Any(name => name == LogHeadFile.FileName || SegmentNames.TryParse(name, out _)))
        {
            return;
        }

        string[] foreign = names.Where(name => !IsLogFile(name)).Order(StringComparer.Ordinal).ToArray();
        if (foreign.Length == 0)
        {
            return;
        }

        string named = string.Join(", ", foreign.Take(NamedForeignFiles).Select(name => $"'{name}'"));
        string more = foreign.Length > NamedForeignFiles ? string.Create(CultureInfo.InvariantCulture, $" and {foreign.Length - NamedForeignFiles} more") : "";
        throw new WalException(
            $"The log directory '{directory}' holds no log (no {LogHeadFile.FileName} and no segment file) but {foreign.Length} other file{(foreign.Length == 1 ? "" : "s")}: " +
            $"{named}{more}. A new log is not created among other files: point WalOptions.Directory at an empty or new directory, " +
            "or set WalOptions.AllowForeignFiles to create the log there.");
    }

    /// <summary>
    /// A name the log creates: its lock file, <c>wal.head</c>, a segment, a segment being prepared, a recycled segment.
    /// Exact names only (a 20-digit number): recovery deletes leftovers of its own kinds, so another file named
    /// <c>notes.wal.tmp</c> must count as foreign and stop a new log from being created beside it.
    /// </summary>
    internal static bool IsLogFile(string name) =>
        name == SegmentNames.LockFileName
        || name == LogHeadFile.FileName
        || SegmentNames.TryParse(name, out _)
        || IsNumbered(name, SegmentNames.PreparingExtension)
        || IsNumbered(name, SegmentNames.RecycledExtension);

    private static bool IsNumbered(string name, string extension) =>
        name.Length == 20 + extension.Length
        && name.EndsWith(extension, StringComparison.Ordinal)
        && ulong.TryParse(name.AsSpan(0, 20), NumberStyles.None, CultureInfo.InvariantCulture, out _);
}
