using System.Diagnostics.Tracing;
using Aletheia.Wal.Diagnostics;

namespace Aletheia.Wal.Storage;

/// <summary>
/// The seam between the log and the file system: every file and directory operation the log makes goes through it,
/// so that tests can tear, drop or fail writes, fail fsyncs and fail segment creation (as RocksDB's FaultInjectionTestFS).
/// </summary>
internal abstract class WalStorage
{
    /// <summary>The real file system.</summary>
    public static WalStorage Files { get; } = new FileWalStorage();

    /// <summary>Opens an existing file for reading and writing; <paramref name="writeThrough"/> makes every write durable on return.</summary>
    public abstract WalFile OpenWrite(string path, bool writeThrough);

    /// <summary>
    /// Creates a new file (fails if it exists) for reading and writing; on the real file system, with the mode this
    /// storage creates files with (<see cref="WithCreateMode"/>).
    /// </summary>
    public abstract WalFile CreateNew(string path, bool writeThrough);

    /// <summary>
    /// This storage, creating every file with exactly <paramref name="mode"/> (<see cref="WalOptions.UnixCreateMode"/>;
    /// ignored on Windows). A log opens its files through the storage this returns. The default returns this storage
    /// unchanged: a test double in memory has no modes, and one wrapping the real file system creates files with its
    /// inner storage's mode (0600 for <see cref="Files"/>).
    /// </summary>
    public virtual WalStorage WithCreateMode(UnixFileMode mode) => this;

    /// <summary>
    /// This storage, opening existing files for write-through writes in <paramref name="mode"/>
    /// (<see cref="WalOptions.WriteMode"/>). The default returns this storage unchanged (test doubles have one durability).
    /// </summary>
    public virtual WalStorage WithWriteMode(WalWriteMode mode) => this;

    /// <summary>
    /// True for a storage that changes nothing on disk (<c>WalInspection</c>'s dry run): what is written through it must
    /// not change what the process remembers of the real files (<see cref="LogHeadFile"/>'s copies whose write failed),
    /// nor be told to the event source as done.
    /// </summary>
    public virtual bool IsDryRun => false;

    /// <summary>Opens an existing file for reading only, sharing it with a writer.</summary>
    public abstract WalFile OpenRead(string path);

    public abstract void Delete(string path);

    /// <summary>
    /// Deletes a segment file, or a recycled one (<c>*.recycle</c>), of the log in <paramref name="directory"/>, and says
    /// so in the event source (SegmentDeleted; not for a dry run, which deletes nothing).
    /// </summary>
    public void DeleteSegment(string directory, string path)
    {
        Delete(path);
        if (!IsDryRun && WalEventSource.Log.IsEnabled(EventLevel.Informational, WalEventSource.Keywords.Segments))
        {
            WalEventSource.Log.SegmentDeleted(directory, SegmentNames.NumberOf(path), path);
        }
    }

    /// <summary>Renames <paramref name="from"/> to <paramref name="to"/>, replacing nothing.</summary>
    public abstract void Move(string from, string to);

    /// <summary>Makes the directory's entries durable (creations, renames, deletions).</summary>
    public abstract void SyncDirectory(string directory);

    /// <summary>The names (not paths) of the files in <paramref name="directory"/> matching <paramref name="searchPattern"/>.</summary>
    public abstract string[] ListFiles(string directory, string searchPattern);
}
