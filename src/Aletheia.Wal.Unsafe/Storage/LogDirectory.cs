using System.Globalization;

namespace Aletheia.Wal.Storage;

/// <summary>
/// The log directory as a whole: its creation with the log's mode, and the check that a directory about to receive a new
/// log is not somebody else's (<see cref="WalOptions.AllowForeignFiles"/>).
/// </summary>
internal static class LogDirectory
{
    /// <summary>At most this many foreign files are named in the refusal; the rest are counted.</summary>
    internal const int NamedForeignFiles = 5;

    /// <summary>
    /// The mode of a directory the log creates for files of <paramref name="fileMode"/>: the same, plus search (execute)
    /// permission for each class that may read, without which it could list the directory but open nothing in it.
    /// </summary>
    public static UnixFileMode ModeFor(UnixFileMode fileMode)
    {
        UnixFileMode mode = fileMode;
        if ((fileMode & UnixFileMode.UserRead) != 0)
        {
            mode |= UnixFileMode.UserExecute;
        }

        if ((fileMode & UnixFileMode.GroupRead) != 0)
        {
            mode |= UnixFileMode.GroupExecute;
        }

        if ((fileMode & UnixFileMode.OtherRead) != 0)
        {
            mode |= UnixFileMode.OtherExecute;
        }

        return mode;
    }

    /// <summary>
    /// Creates <paramref name="directory"/> (a full path) if it is missing, with exactly <see cref="ModeFor"/>
    /// <paramref name="fileMode"/> on Unix, whatever the umask; its missing parents get the process's default mode, as
    /// <c>mkdir -p</c> gives them. An existing directory is left as it is: its mode is its owner's choice. Windows: the
    /// mode is ignored.
    /// </summary>
    /// <exception cref="IOException">The directory cannot be created.</exception>
    /// <exception cref="UnauthorizedAccessException">No permission to create it or set its mode.</exception>
    public static void Create(string directory, UnixFileMode fileMode)
    {
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(directory);
            return;
        }

        directory = Path.TrimEndingDirectorySeparator(directory);
        if (Directory.Exists(directory))
        {
            return;
        }

        if (Path.GetDirectoryName(directory) is { Length: > 0 } parent)
        {
            Directory.CreateDirectory(parent);
        }

        // mkdir(2) applies the umask, which can only take permissions away: the directory is never more open than asked,
        // and chmod(2) then gives it exactly the mode asked. (Two openers creating it at once each set their own mode, the
        // later one's stays; the lock lets one of them open the log.)
        UnixFileMode mode = ModeFor(fileMode);
        Directory.CreateDirectory(directory, mode);
        File.SetUnixFileMode(directory, mode);
    }

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
        || SegmentNames.TryParse(name, SegmentNames.PreparingExtension, out _)
        || SegmentNames.TryParse(name, SegmentNames.RecycledExtension, out _);
}
