using System.Diagnostics.CodeAnalysis;

namespace Aletheia.Wal.Tool.Bench;

/// <summary>
/// Where the tour runs: a fresh temporary directory, deleted afterwards whatever happened, or the directory the user
/// gave, which is never deleted. The log is written straight into it (so <c>--directory</c> leaves a log the other
/// commands read), and the raw reference's file next to it, deleted once measured.
/// </summary>
internal sealed class BenchDirectory
{
    private BenchDirectory(string path, bool temporary)
    {
        Path = path;
        Temporary = temporary;
    }

    public string Path { get; }

    /// <summary>True for a directory the bench created and so deletes.</summary>
    public bool Temporary { get; }

    public static BenchDirectory CreateTemporary() => new(Directory.CreateTempSubdirectory("aletheia-bench-").FullName, temporary: true);

    /// <summary>
    /// Takes the directory the user gave, creating it if missing. A run that writes needs it empty, or holding an empty
    /// log: every record the verification reads must be the tour's own. A run that only verifies needs a log there.
    /// </summary>
    public static bool TryUseGiven(string path, BenchSettings settings, [NotNullWhen(true)] out BenchDirectory? directory, [NotNullWhen(false)] out string? error)
    {
        directory = null;
        if (File.Exists(path))
        {
            error = $"--directory '{path}' is a file; give a directory.";
            return false;
        }

        bool exists = Directory.Exists(path);
        bool holdsLog = exists && (File.Exists(System.IO.Path.Combine(path, "wal.head")) || Directory.EnumerateFiles(path, "*.wal").Any());
        if (settings.Workloads == BenchWorkloads.Verify)
        {
            if (!holdsLog)
            {
                error = $"--directory '{path}' holds no log to verify.";
                return false;
            }
        }
        else if (exists && Directory.EnumerateFileSystemEntries(path).Any())
        {
            if (!holdsLog)
            {
                error = $"--directory '{path}' is not empty and holds no log; give an empty or new directory (the bench writes a log there and deletes nothing of it).";
                return false;
            }

            if (FirstRecord(path, out string? unreadable) is { } first)
            {
                error = $"--directory '{path}' holds a log with records (from LSN {first}); the bench appends to an empty log only, so that every record it verifies is its own: give an empty directory, or --workloads verify to check this log.";
                return false;
            }

            if (unreadable is not null)
            {
                error = $"--directory '{path}' holds a log that cannot be read: {unreadable}";
                return false;
            }
        }

        Directory.CreateDirectory(path);
        directory = new BenchDirectory(path, temporary: false);
        error = null;
        return true;
    }

    /// <summary>Deletes a temporary directory with everything in it; null once done (or for the user's), else why it could not.</summary>
    public string? DeleteIfTemporary()
    {
        if (!Temporary)
        {
            return null;
        }

        try
        {
            Directory.Delete(Path, recursive: true);
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return $"could not delete the temporary directory '{Path}': {e.Message}";
        }
    }

    private static ulong? FirstRecord(string path, out string? unreadable)
    {
        unreadable = null;
        try
        {
            using WalReader reader = WalReader.Open(path);
            return reader.TryRead(out WalRecord record) ? record.Lsn.Value : null;
        }
        catch (Exception e) when (e is WalException or IOException or UnauthorizedAccessException)
        {
            unreadable = e.Message;
            return null;
        }
    }
}
