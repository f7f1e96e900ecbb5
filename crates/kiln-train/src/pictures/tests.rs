use image::{GrayImage, Luma, Rgb, RgbImage, Rgba, RgbaImage};
use tempfile::TempDir;

use super::*;

const OPTIONS: PictureOptions = PictureOptions {
    side: 8,
    channels: None,
    skip_unreadable: false,
};

/// Save a `side × side` gray picture of one `level` at `dir/relative`.
fn gray(dir: &Path, relative: &str, side: u32, level: u8) {
    let path = dir.join(relative);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    GrayImage::from_pixel(side, side, Luma([level]))
        .save(path)
        .unwrap();
}

fn error(dir: &Path, options: &PictureOptions) -> String {
    format!("{:#}", load(dir, options, 0).err().expect("an error"))
}

/// The distinct first values of the images of a split, sorted.
fn levels(data: &ImageDataset) -> Vec<u8> {
    let mut levels: Vec<u8> = (0..data.len()).map(|i| data.image_bytes(i)[0]).collect();
    levels.sort();
    levels
}

#[test]
fn classes_are_sorted_folders_and_test_holds_out() {
    let dir = TempDir::new().unwrap();
    let root = dir.path();
    gray(root, "shoe/a.png", 8, 10);
    gray(root, "hat/deeper/b.png", 8, 20);
    gray(root, "hat/c.PNG", 8, 30);
    std::fs::write(root.join("hat/notes.txt"), "not a picture").unwrap();
    std::fs::write(root.join(".DS_Store"), "hidden").unwrap();
    gray(root, "test/shoe/d.png", 8, 40);
    // A link back up the tree is not followed (nor counted as a class).
    std::os::unix::fs::symlink(root, root.join("hat/deeper/up")).unwrap();
    let splits = load(root, &OPTIONS, 0).unwrap();
    assert_eq!(splits.train.classes(), ["hat", "shoe"]);
    assert_eq!(
        splits.train.shape(),
        ImageShape {
            channels: 1,
            side: 8
        }
    );
    let mut labelled: Vec<(u8, u16)> = (0..3)
        .map(|i| (splits.train.image_bytes(i)[0], splits.train.labels()[i]))
        .collect();
    labelled.sort();
    assert_eq!(labelled, [(10, 1), (20, 0), (30, 0)]);
    assert_eq!(splits.test.labels(), [1]);
    assert_eq!(levels(&splits.test), [40]);
}

#[test]
fn loose_pictures_are_one_class_with_a_seeded_tenth_held_out() {
    let dir = TempDir::new().unwrap();
    let root = dir.path().join("sprites");
    for level in 0..20u8 {
        gray(&root, &format!("{level:02}.png"), 8, level * 10);
    }
    let splits = load(&root, &OPTIONS, 1).unwrap();
    assert_eq!(splits.train.classes(), ["sprites"]);
    assert_eq!((splits.train.len(), splits.test.len()), (18, 2));
    let held = levels(&splits.test);
    assert_eq!(levels(&load(&root, &OPTIONS, 1).unwrap().test), held);
    let other_seeds: Vec<Vec<u8>> = (2..6)
        .map(|seed| levels(&load(&root, &OPTIONS, seed).unwrap().test))
        .collect();
    assert!(
        other_seeds.iter().any(|levels| *levels != held),
        "the seed draws the tenth"
    );
    let mut all = levels(&splits.train);
    all.extend(held);
    all.sort();
    assert_eq!(all, (0..20).map(|l| l * 10).collect::<Vec<u8>>());
}

#[test]
fn loose_pictures_take_a_loose_test_folder() {
    let dir = TempDir::new().unwrap();
    let root = dir.path().join("sprites");
    gray(&root, "a.png", 8, 10);
    gray(&root, "b.png", 8, 20);
    gray(&root, "test/c.png", 8, 30);
    let splits = load(&root, &OPTIONS, 0).unwrap();
    assert_eq!(splits.test.classes(), ["sprites"]);
    assert_eq!(
        (levels(&splits.train), levels(&splits.test)),
        (vec![10, 20], vec![30])
    );
    gray(&root, "test/hat/d.png", 8, 40);
    std::fs::remove_file(root.join("test/c.png")).unwrap();
    assert!(error(&root, &OPTIONS).contains("must be laid out like"));
}

#[test]
fn pictures_are_resized_and_centre_cropped() {
    let dir = TempDir::new().unwrap();
    // 40×20: a red band, a green middle and a blue band; the centre crop keeps the green.
    let picture = RgbImage::from_fn(40, 20, |x, _| match x {
        0..10 => Rgb([255, 0, 0]),
        10..30 => Rgb([0, 255, 0]),
        _ => Rgb([0, 0, 255]),
    });
    picture.save(dir.path().join("wide.png")).unwrap();
    gray(dir.path(), "gray.jpg", 30, 128);
    let splits = load(
        dir.path(),
        &PictureOptions {
            side: 10,
            ..OPTIONS
        },
        0,
    )
    .unwrap();
    let all = if splits.train.labels().len() == 1 {
        [&splits.train, &splits.test]
    } else {
        unreachable!()
    };
    assert_eq!(
        all[0].shape(),
        ImageShape {
            channels: 3,
            side: 10
        },
        "colour found: 3 channels"
    );
    let wide = all
        .iter()
        .map(|data| data.image_bytes(0))
        .find(|bytes| bytes[0] != bytes[100])
        .unwrap();
    let (red, green, blue) = (&wide[..100], &wide[100..200], &wide[200..]);
    assert!(green.iter().all(|&g| g > 200), "{green:?}");
    assert!(red.iter().chain(blue).all(|&c| c < 60));
}

#[test]
fn channels_follow_the_pictures_or_the_option() {
    let dir = TempDir::new().unwrap();
    gray(dir.path(), "a.png", 8, 100);
    gray(dir.path(), "b.jpg", 8, 200);
    assert_eq!(
        load(dir.path(), &OPTIONS, 0)
            .unwrap()
            .train
            .shape()
            .channels,
        1
    );
    let three = load(
        dir.path(),
        &PictureOptions {
            channels: Some(3),
            ..OPTIONS
        },
        0,
    )
    .unwrap();
    let bytes = three.train.image_bytes(0);
    assert_eq!(bytes.len(), 3 * 64);
    assert!(bytes[..64] == bytes[64..128] && bytes[64..128] == bytes[128..]);

    RgbaImage::from_fn(8, 8, |x, _| {
        if x < 4 {
            Rgba([0, 0, 255, 255])
        } else {
            Rgba([255, 255, 255, 0])
        }
    })
    .save(dir.path().join("c.png"))
    .unwrap();
    let one = load(
        dir.path(),
        &PictureOptions {
            channels: Some(1),
            ..OPTIONS
        },
        0,
    )
    .unwrap();
    let data = [&one.train, &one.test];
    let blue = data
        .iter()
        .flat_map(|split| (0..split.len()).map(|i| split.image_bytes(i)))
        .find(|bytes| bytes[0] != bytes[7])
        .expect("the half-transparent picture");
    assert_eq!(blue.len(), 64);
    assert_eq!(blue[0], 18, "blue as Rec. 709 luma");
    assert_eq!(blue[7], 0, "transparent white is black");
}

#[test]
fn unreadable_pictures_are_named_or_skipped() {
    let dir = TempDir::new().unwrap();
    for level in 0..3 {
        gray(dir.path(), &format!("ok{level}.png"), 8, level);
    }
    std::fs::write(dir.path().join("broken.png"), b"not a PNG at all").unwrap();
    let message = error(dir.path(), &OPTIONS);
    assert!(
        message.contains("broken.png") && message.contains("--skip-unreadable"),
        "{message}"
    );
    let skipping = PictureOptions {
        skip_unreadable: true,
        ..OPTIONS
    };
    let splits = load(dir.path(), &skipping, 0).unwrap();
    assert_eq!(splits.train.len() + splits.test.len(), 3);
}

#[test]
fn odd_layouts_get_clear_errors() {
    let dir = TempDir::new().unwrap();
    let root = dir.path();
    assert!(error(root, &OPTIONS).contains("holds no pictures"));
    std::fs::create_dir(root.join("empty")).unwrap();
    assert!(error(root, &OPTIONS).contains("class folder"));
    gray(root, "cat/a.png", 8, 1);
    gray(root, "loose.png", 8, 1);
    assert!(error(root, &OPTIONS).contains("both class folders"));
    std::fs::remove_file(root.join("loose.png")).unwrap();
    std::fs::remove_dir(root.join("empty")).unwrap();
    gray(root, "test/dog/b.png", 8, 1);
    assert!(error(root, &OPTIONS).contains("class \"dog\""));
    assert!(
        error(
            root,
            &PictureOptions {
                channels: Some(2),
                ..OPTIONS
            }
        )
        .contains("--channels")
    );
    assert!(error(root, &PictureOptions { side: 0, ..OPTIONS }).contains("--image-size"));
    assert!(error(&root.join("missing"), &OPTIONS).contains("does not exist"));
}
